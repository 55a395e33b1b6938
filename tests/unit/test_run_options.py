"""`workbench run` options: QVQ defaults, overrides, bad values."""

from __future__ import annotations

import pytest

from workbench.cli import build_parser


def opts(*argv: str):  # noqa: ANN201
    from workbench.commands.run import options_from_args
    return options_from_args(build_parser().parse_args(["run", "--model", "m", "--data", "d.jsonl", *argv]))


def test_defaults_are_qvq_generation_config_and_system_prompt() -> None:
    o = opts()
    s = o.sampling
    assert (s.max_new_tokens, s.temperature, s.top_k, s.top_p, s.repetition_penalty) == (8192, 0.01, 1, 0.001, 1.05)
    assert s.greedy
    assert o.system_prompt.startswith("You are a helpful and harmless assistant. You are Qwen developed by Alibaba.")
    assert o.backend == "transformers" and o.dtype == "bfloat16" and not o.resume


def test_overrides() -> None:
    o = opts("--temperature", "0.7", "--top-p", "0.9", "--seed", "5", "--gpus", "0,1,2,3", "--max-memory", "75GiB",
             "--system-prompt", "", "--resume", "--limit", "3", "--max-new-tokens", "100")
    s = o.sampling
    assert (s.temperature, s.top_p, s.top_k, s.seed, s.max_new_tokens) == (0.7, 0.9, None, 5, 100)
    assert not s.greedy and o.gpus == [0, 1, 2, 3] and o.max_memory == "75GiB"
    assert o.system_prompt is None and o.resume and o.limit == 3


def test_bad_values_are_usage_errors() -> None:
    from workbench.errors import UsageError
    with pytest.raises(UsageError, match="--gpus takes comma-separated GPU ids"):
        opts("--gpus", "a,b")
    with pytest.raises(UsageError, match="--max-new-tokens must be at least 1"):
        opts("--max-new-tokens", "0")
