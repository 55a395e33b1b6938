"""`workbench run` options: QVQ defaults, overrides, bad values."""

from __future__ import annotations

import pytest

from workbench.cli import build_parser


def opts(*argv: str):
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


def test_throughput_options_and_their_checks() -> None:
    from workbench.errors import UsageError
    o = opts("--batch-size", "16", "--replicas", "2", "--gpus", "0,1,2,3")
    assert (o.batch_size, o.replicas, o.gpus) == (16, 2, [0, 1, 2, 3])
    v = opts("--backend", "vllm", "--gpus", "0,1,2,3,4,5,6,7", "--replicas", "2", "--tensor-parallel", "2",
             "--pipeline-parallel", "2")
    assert (v.tensor_parallel, v.pipeline_parallel, v.distributed_executor) == (2, 2, None)
    ray = opts("--backend", "vllm", "--tensor-parallel", "8", "--pipeline-parallel", "4",
               "--distributed-executor", "ray")
    assert ray.distributed_executor == "ray" and ray.tensor_parallel == 8
    for argv, message in [
        (("--batch-size", "0"), "--batch-size must be at least 1"),
        (("--replicas", "3", "--gpus", "0,1,2,3"), "--replicas 3 must divide the 4 GPUs"),
        (("--tensor-parallel", "2"), "--tensor-parallel: vLLM options"),
        (("--distributed-executor", "ray"), "--distributed-executor: vLLM options"),
        (("--backend", "openai", "--replicas", "2"), "an endpoint takes more requests with --concurrency"),
        (("--backend", "vllm", "--replicas", "2", "--distributed-executor", "ray"), "one vLLM engine spans the Ray"),
        (("--backend", "vllm", "--gpus", "0,1,2,3", "--tensor-parallel", "4", "--pipeline-parallel", "2"),
         "must equal the 4 GPU"),
    ]:
        with pytest.raises(UsageError, match=message):
            opts(*argv)


def test_probe_is_composed_by_the_command_not_the_runner() -> None:
    import pickle

    from workbench.commands.run import ProbeAfterCommit, probe_hook
    from workbench.errors import UsageError
    args = build_parser().parse_args(["run", "--model", "m", "--data", "d.jsonl", "--probe", "--probe-layers", "all"])
    from workbench.commands.run import options_from_args
    hook = probe_hook(args, options_from_args(args))
    assert isinstance(hook, ProbeAfterCommit) and hook.options["layers"] == "all"
    assert pickle.loads(pickle.dumps(hook)) == hook, "replicas receive it pickled"
    vargs = build_parser().parse_args(["run", "--model", "m", "--data", "d.jsonl", "--probe", "--backend", "vllm"])
    with pytest.raises(UsageError, match="--probe needs the transformers backend"):
        probe_hook(vargs, options_from_args(vargs))
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "workbench" / "models"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(m.startswith("workbench.probe") for m in imported), f"{path} imports the probe"


def test_no_sql_in_the_models_package() -> None:
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "workbench" / "models"
    sql = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE TABLE)\b")
    found = [f"{p.name}: {m.group(0)}" for p in root.rglob("*.py") for m in sql.finditer(p.read_text())]
    assert not found, found


def test_the_run_page_form_starts_the_same_options_as_the_cli() -> None:
    from workbench.commands.run import options_from_args
    from workbench.models.jobs import run_argv
    form = {"model": "Qwen/QVQ-72B-Preview", "data": "mmmu.jsonl", "backend": "vllm", "gpus": "0,1,2,3,4,5,6,7",
            "batch_size": 64, "replicas": 2, "tensor_parallel": 2, "pipeline_parallel": 2, "distributed_executor": None,
            "max_new_tokens": 100, "limit": None, "resume": True}
    o = options_from_args(build_parser().parse_args(["run", *run_argv(form, "/tmp/s.duckdb")]))
    assert (o.backend, o.batch_size, o.replicas, o.tensor_parallel, o.pipeline_parallel, o.resume, o.db) == \
           ("vllm", 64, 2, 2, 2, True, "/tmp/s.duckdb")
    assert o.gpus == list(range(8)) and o.sampling.max_new_tokens == 100


def test_the_run_path_outside_the_engine_imports_without_torch() -> None:
    """The writer, the pools, the job view and the store module run in the app or a light install."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'transformers', 'accelerate', 'vllm'):\n"
            "            raise ImportError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import workbench.models.runner, workbench.models.replicas, workbench.models.jobs\n"
            "import workbench.store.generation, workbench.ui.run_panel, workbench.commands.run\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
