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


def test_run_refuses_before_loading_when_plan_fails(tmp_path) -> None:  # noqa: ANN001
    from workbench.errors import WorkbenchError
    from workbench.models.planner import check_fits
    with pytest.raises(WorkbenchError, match="does not fit"):
        check_fits("qvq-72b-preview", 2, "24GiB", 8192)


def test_memory_sizes_parse() -> None:
    from workbench.errors import WorkbenchError
    from workbench.models.loader import parse_memory
    assert parse_memory("75GiB") == 75 * 2**30 and parse_memory("80GB") == 80 * 10**9
    with pytest.raises(WorkbenchError, match="cannot read memory size"):
        parse_memory("lots")


def test_plan_for_a_local_checkpoint_and_cpu_only_gpu_request(tmp_path) -> None:  # noqa: ANN001
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
