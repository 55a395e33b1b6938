"""Planner on the meta device from QVQ-72B-Preview's real configuration."""

from __future__ import annotations

import pytest

pytest.importorskip("accelerate")
pytestmark = pytest.mark.models


def test_qvq_72b_over_4x80gib_places_every_layer_within_budget() -> None:
    from workbench.models.planner import RUNTIME_RESERVE, plan
    p = plan("qvq-72b-preview", 4, "80GiB", 8192)
    assert p.fits, p.text()
    assert p.n_layers == 80 and sum(p.layers_per_gpu.values()) == 80
    assert set(p.layers_per_gpu) == {0, 1, 2, 3}
    assert all(isinstance(d, int) for d in p.device_map.values()), "nothing offloaded to cpu/disk"
    for g in range(4):
        assert p.weights_per_gpu[g] + p.kv_per_gpu[g] + RUNTIME_RESERVE <= 80 * 2**30
    # ~73B params in bf16: between 130 and 150 GiB of weights
    assert 130 * 2**30 < sum(p.weights_per_gpu.values()) == p.weights_total < 150 * 2**30
    # KV: 2 (k,v) * 80 layers * 8 kv heads * 128 * 2 bytes per token
    assert p.kv_total == 2 * 80 * 8 * 128 * 2 * (2048 + 8192)


def test_2x24gib_is_refused_fast_with_a_clear_message(capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main
    from workbench.models.planner import plan
    p = plan("qvq-72b-preview", 2, "24GiB", 8192)
    assert not p.fits and not p.device_map, "refused by arithmetic before building the skeleton"
    assert "use more or larger GPUs" in p.reason
    assert main(["plan", "--gpus", "2", "--gpu-memory", "24GiB"]) == 1
    out = capsys.readouterr()
    assert "DOES NOT FIT" in out.out and "does not fit" in out.err


def test_run_refuses_before_loading_when_plan_fails(tmp_path) -> None:
    from workbench.errors import WorkbenchError
    from workbench.models.loader import planned_device_map
    with pytest.raises(WorkbenchError, match=r"(?s)does not fit on the chosen GPUs:.*DOES NOT FIT"):
        planned_device_map("qvq-72b-preview", [0, 1], 24 * 2**30)


def test_memory_sizes_parse() -> None:
    from workbench.errors import WorkbenchError
    from workbench.models.loader import parse_memory
    assert parse_memory("75GiB") == 75 * 2**30 and parse_memory("80GB") == 80 * 10**9
    with pytest.raises(WorkbenchError, match="cannot read memory size"):
        parse_memory("lots")


def test_plan_for_a_local_checkpoint_and_cpu_only_gpu_request(tmp_path) -> None:
    pytest.importorskip("torch")
    from workbench.errors import WorkbenchError
    from workbench.models.loader import best_attention, device_map_args
    from workbench.models.planner import plan
    from workbench.models.tiny import build_tiny_model
    path = build_tiny_model(tmp_path / "tiny", layers=3)
    p = plan(str(path), 2, "4GiB", 256)
    assert p.fits and p.n_layers == 3 and sum(p.layers_per_gpu.values()) == 3
    assert best_attention(False) == "sdpa"
    assert device_map_args(str(path), None, None, cuda=None) == {"device_map": "cpu"}
    with pytest.raises(WorkbenchError, match="CUDA is not available"):
        device_map_args(str(path), [0, 1], "75GiB", cuda=None)
    with pytest.raises(WorkbenchError, match=r"GPU\(s\) \[5\] requested but this machine shows GPUs \[0, 1\]"):
        device_map_args(str(path), [5], "75GiB", cuda={0: 80 * 2**30, 1: 80 * 2**30})


def test_the_loader_places_weights_with_the_plans_device_map(tmp_path) -> None:
    """`workbench plan` and `workbench run` use one device map: the loader's placement on GPUs 2,3 is
    the plan's for 2 GPUs (same batch, context, dtype, memory), renumbered; and the map's module
    names are the real model class's (the tiny model loads with it, every device moved to the CPU)."""
    pytest.importorskip("torch")
    from workbench.models.loader import device_map_args, load_model
    from workbench.models.planner import RUNTIME_RESERVE, plan
    from workbench.models.tiny import build_tiny_model
    path = str(build_tiny_model(tmp_path / "tiny", layers=6, hidden=128, heads=4, kv_heads=2))
    mem = RUNTIME_RESERVE + 32 * 2**20   # small GPUs, so the tiny model really spreads over both
    p = plan(path, 2, mem, 512, batch_size=4, dtype="float32")
    assert p.fits and set(p.layers_per_gpu) == {0, 1}, p.text()
    loaded = device_map_args(path, [2, 3], mem, cuda={2: 80 * 2**30, 3: 80 * 2**30}, max_new_tokens=512,
                             batch_size=4, dtype="float32")["device_map"]
    assert loaded == {name: {0: 2, 1: 3}[d] for name, d in p.device_map.items()}
    # the KV room is the batch's: the largest batch the plan reports fits, one more does not
    assert p.max_batch >= 4 and plan(path, 2, mem, 512, batch_size=p.max_batch, dtype="float32").fits
    assert not plan(path, 2, mem, 512, batch_size=p.max_batch + 1, dtype="float32").fits
    # without --max-memory the smallest chosen GPU's memory is the budget
    assert device_map_args(path, None, None, cuda={0: mem, 1: 2 * mem}, max_new_tokens=512, batch_size=4,
                           dtype="float32")["device_map"] == p.device_map
    lm = load_model(path, dtype="float32", device_map={k: "cpu" for k in p.device_map})
    modules = dict(lm.model.named_modules())
    assert all(name in modules for name in p.device_map), "the plan names the loaded class's modules"
    covered = lambda param: any(param == n or param.startswith(n + ".") or n == "" for n in p.device_map)  # noqa: E731
    assert all(covered(name) for name, _ in lm.model.named_parameters()), "every weight has a planned device"


def test_plan_prints_the_batch_per_replica_and_a_split(capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main
    assert main(["plan", "--gpus", "8", "--gpu-memory", "80GiB", "--replicas", "2", "--batch-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "per replica (2 replicas of 4 GPU(s) each)" in out and "100.0 GiB for a batch of 32" in out
    assert "largest batch per replica: 48; all 2 replica(s): 96 sequences at once" in out
    assert "suggested: --replicas 2 --batch-size 48 (transformers); --replicas 2 --tensor-parallel 4 (vllm)" in out
    assert "       8 |        1 |                       139 |" in out
    assert main(["plan", "--gpus", "8", "--gpu-memory", "80GiB", "--replicas", "2", "--batch-size", "49"]) == 1
    assert "over budget once the KV cache is added" in capsys.readouterr().out
    assert main(["plan", "--gpus", "8", "--gpu-memory", "80GiB", "--replicas", "3"]) == 2
