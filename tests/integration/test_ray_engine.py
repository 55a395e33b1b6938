"""`analyze --engine ray` on a local Ray instance: row for row what the local engine writes,
idempotent, resumable, safe against samples changing mid-run and against version skew."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the Ray engine needs the 'ray' extra (scripts/setup.sh installs it)")

from workbench.analysis import ray_engine, registry
from workbench.analysis.pipeline import analyze_store
from workbench.analysis.ray_engine import analyze_store_ray
from workbench.cli import main
from workbench.demo import DEMO_FILE
from workbench.errors import WorkbenchError
from workbench.ingest import import_paths
from workbench.store import connect

# One Ray instance for the module, on one xdist worker: Ray's start-up is the slow part.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

TABLES = {"flags": "*", "steps": "*", "trace_stats": "*",
          "analysis_status": "run_id, sample_id, detector, detector_version, content_hash"}


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray bounded to 2 CPUs and a 256 MB object store, no dashboard, no usage stats;
    shut down after the module."""
    with ray_engine.ray_session(num_cpus=2) as ray:
        yield ray
    assert not ray.is_initialized()


def snapshot(db: Path) -> dict[str, list[tuple]]:
    with connect(db) as con:
        return {t: con.execute(f"SELECT {cols} FROM {t} ORDER BY ALL").fetchall() for t, cols in TABLES.items()}


def q(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with connect(db) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    """An unanalysed store with two runs of the demo traces (one with a number-like run id)."""
    db = tmp_path / "store.duckdb"
    import_paths([DEMO_FILE], db, run="demo A", progress=False)
    import_paths([DEMO_FILE], db, run="2024", progress=False)
    return db


def copy_store(db: Path, name: str) -> Path:
    out = db.with_name(name)
    shutil.copy(db, out)
    return out


def test_ray_engine_writes_what_the_local_engine_writes(two_runs, ray_local, tmp_path):
    local, ray_db = copy_store(two_runs, "local.duckdb"), copy_store(two_runs, "ray.duckdb")
    res_local = analyze_store(local, progress=False, workers=1)
    export = tmp_path / "export"
    res_ray = analyze_store_ray(ray_db, chunk_size=4, progress=False, export_dir=str(export), keep_export=True)
    assert res_ray.analysed == res_local.analysed == {d: 30 for d in ["steps", *registry.default_names()]}
    assert res_ray.errors == res_local.errors == []
    a, b = snapshot(local), snapshot(ray_db)
    for table in TABLES:
        assert b[table] == a[table], table
    assert len(a["flags"]) > 10 and len(a["steps"]) > 30
    # The tasks read a Hive-partitioned export by run and chunk: 30 pending samples in chunks of 4
    # (0-7), chunk 3 holding the last 3 samples of one run and the first of the other: 9 files, 9 tasks.
    files = sorted(p.relative_to(export).parts[1:3] for p in export.rglob("*.parquet"))
    assert {f[0] for f in files} == {"run_id=demo-a", "run_id=2024"} and len(files) == 9
    assert sorted(int(c.split("=")[1]) for r, c in files if r == "run_id=2024") == [3, 4, 5, 6, 7]


def test_rerun_is_idempotent_and_an_interrupted_run_resumes(two_runs, ray_local, monkeypatch):
    local = copy_store(two_runs, "local.duckdb")
    analyze_store(local, progress=False, workers=1)
    calls = {"n": 0}
    real = ray_engine._write

    def crash_on_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(ray_engine, "_write", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        analyze_store_ray(two_runs, chunk_size=5, progress=False)
    # two tasks of five samples were written, with their status rows; nothing else
    assert q(two_runs, "SELECT count(DISTINCT (run_id, sample_id)) FROM analysis_status") == [(10,)]
    assert q(two_runs, "SELECT count(DISTINCT (run_id, sample_id)) FROM trace_stats") == [(10,)]
    monkeypatch.setattr(ray_engine, "_write", real)
    res = analyze_store_ray(two_runs, chunk_size=5, progress=False)
    assert res.skipped_up_to_date == 10 and res.analysed["steps"] == 20
    assert snapshot(two_runs) == snapshot(local)
    again = analyze_store_ray(two_runs, progress=False)
    assert again.analysed == {} and again.skipped_up_to_date == 30


def test_each_sample_carries_its_own_to_do_list(two_runs, ray_local):
    # language_mixing is up to date already: the tasks run only what each sample still needs.
    local = copy_store(two_runs, "local.duckdb")
    analyze_store(local, progress=False, workers=1)
    analyze_store(two_runs, progress=False, workers=1, detectors=["language_mixing"])
    res = analyze_store_ray(two_runs, progress=False)
    # steps came with the first run; every other default detector still had work
    assert res.analysed == {name: 30 for name in registry.default_names() if name != "language_mixing"}
    assert snapshot(two_runs) == snapshot(local)


def test_a_sample_changed_during_the_run_stays_pending(two_runs, ray_local, monkeypatch):
    real = ray_engine._write

    def edit_then_write(db, out, hashes, versions):
        if ("demo-a", "loop-runaway") in hashes:   # the store changes while the task ran
            with connect(db) as con:
                con.execute("UPDATE samples SET response = 'Clean now. The answer is C.', content_hash = 'edited' "
                            "WHERE run_id = 'demo-a' AND sample_id = 'loop-runaway'")
        return real(db, out, hashes, versions)

    monkeypatch.setattr(ray_engine, "_write", edit_then_write)
    res = analyze_store_ray(two_runs, chunk_size=8, progress=False)
    assert [e for e in res.errors if "demo-a/loop-runaway" in e and "changed" in e] == res.errors != []
    assert q(two_runs, "SELECT count(*) FROM flags WHERE run_id = 'demo-a' AND sample_id = 'loop-runaway'") == [(0,)]
    assert q(two_runs, "SELECT count(*) FROM analysis_status WHERE run_id = 'demo-a' "
                       "AND sample_id = 'loop-runaway'") == [(0,)]
    monkeypatch.setattr(ray_engine, "_write", real)
    res = analyze_store_ray(two_runs, progress=False)
    assert res.skipped_up_to_date == 29 and res.analysed["steps"] == 1 and res.errors == []
    assert q(two_runs, "SELECT count(*) FROM flags WHERE run_id = 'demo-a' AND sample_id = 'loop-runaway'") == [(0,)]


def test_a_worker_with_other_detector_versions_is_refused(two_runs, ray_local):
    # The driver's registry says another version than the workers' code: nothing may be written.
    with (registry.overridden("repetition_loop", version="repetition-driver-only"),
          pytest.raises(WorkbenchError, match="detector versions")):
        analyze_store_ray(two_runs, progress=False)
    assert q(two_runs, "SELECT count(*) FROM analysis_status") == [(0,)]


def test_tasks_read_the_export_through_a_uri(two_runs, ray_local, tmp_path):
    # An object-store URI takes the same path as s3://...: a local export copied there, read by URI.
    target = tmp_path / "bucket"
    target.mkdir()
    res = analyze_store_ray(two_runs, progress=False, export_dir=target.as_uri(), chunk_size=10)
    assert res.analysed["steps"] == 30 and res.errors == []
    assert list(target.iterdir()) == []   # removed afterwards


def test_cli_engine_option(two_runs, ray_local, capsys):
    assert main(["analyze", "--db", str(two_runs), "--ray-address", "ray://nowhere:10001"]) == 2
    assert "--engine ray only" in capsys.readouterr().err
    assert main(["analyze", "--db", str(two_runs), "--engine", "ray", "--ray-address", "ray://nowhere:10001"]) == 2
    assert "--export-dir" in capsys.readouterr().err
    assert main(["analyze", "--db", str(two_runs), "--engine", "ray", "--run", "2024"]) == 0
    assert "steps: 15" in capsys.readouterr().out
    assert q(two_runs, "SELECT DISTINCT run_id FROM analysis_status") == [("2024",)]


@pytest.mark.realdata
def test_ray_engine_matches_local_on_real_traces(dev_jsonl, ray_local, tmp_path):
    subset = tmp_path / "dev_head.jsonl"   # a temporary copy of the first 400 traces (never committed)
    with dev_jsonl.open(encoding="utf-8") as src, subset.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i == 400:
                break
            dst.write(json.dumps(json.loads(line)) + "\n")
    db = tmp_path / "real.duckdb"
    import_paths([subset], db, run="dev head", progress=False)
    local = copy_store(db, "local.duckdb")
    analyze_store(local, progress=False, workers=1)
    res = analyze_store_ray(db, chunk_size=100, progress=False)
    assert res.analysed["steps"] == 400
    a, b = snapshot(local), snapshot(db)
    for table in TABLES:
        assert b[table] == a[table], table
    assert len(a["flags"]) > 20
