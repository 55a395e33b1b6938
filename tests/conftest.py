"""Shared fixtures. Real QVQ traces are read from ../shared (never copied); tests that need them
skip with a message when the folder is absent (a user's fresh clone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_TRACES = Path(os.environ.get("WORKBENCH_SHARED_TRACES", ROOT.parent / "shared" / "data" / "qvq-traces"))
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """Path of a fresh, not yet created store file."""
    return tmp_path / "store.duckdb"


@pytest.fixture(scope="session")
def dev_jsonl() -> Path:
    path = SHARED_TRACES / "dev.jsonl"
    if not path.exists():
        pytest.skip(f"real QVQ traces not found at {path} (they live in ../shared, outside the repo)")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def probed_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo store, analysed and probed with a tiny random Qwen2-VL: (store, probe_dir).
    Sets WORKBENCH_PROBE_DIR for the session (AppTests and app servers started afterwards)."""
    pytest.importorskip("torch")
    from workbench.analysis.pipeline import analyze_store
    from workbench.demo import build_demo
    from workbench.probe.demo import probe_demo
    tmp = tmp_path_factory.mktemp("probed")
    db, probes = tmp / "store.duckdb", tmp / "probes"
    os.environ["WORKBENCH_PROBE_DIR"] = str(probes)
    build_demo(db)
    analyze_store(db, progress=False, workers=1)
    assert probe_demo(db) > 10
    return db, probes
