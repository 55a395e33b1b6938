"""A detached worker streams partial traces into the store and stops when cancelled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.xdist_group("run_tiny")]
ROOT = Path(__file__).resolve().parents[2]


def test_partial_traces_stream_in_and_cancel_stops_the_worker(tmp_path: Path) -> None:
    from workbench.models import jobs
    from workbench.models.testdata import write_questions
    from workbench.models.tiny import build_tiny_model
    from workbench.store import connect
    tiny = build_tiny_model(tmp_path / "tiny")
    data = write_questions(tmp_path / "d", 12)
    db = tmp_path / "s.duckdb"
    job = jobs.new_job_id()
    jobs.start_detached(["--model", str(tiny), "--data", str(data), "--db", str(db), "--dtype", "float32",
                         "--max-new-tokens", "3000", "--progress-interval", "0.2"], log_dir=tmp_path / "logs",
                        job_id=job)
    seen_partial = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not seen_partial:
        time.sleep(0.2)
        if db.exists():
            with connect(db, timeout=30) as con:
                seen_partial = bool(con.execute("SELECT count(*) FROM samples WHERE status = 'partial' "
                                                "AND length(response) > 0").fetchone()[0])
    log = (tmp_path / "logs" / f"run-{job}.log")
    assert seen_partial, log.read_text()[-2000:] if log.exists() else "no log"
    jobs.request_cancel(db, job)
    status = None
    while time.monotonic() < deadline:
        status = jobs.job_status(db, job)
        if status["status"] != "running":
            break
        time.sleep(0.5)
    assert status and status["status"] == "cancelled", status
    assert status["n_done"] < 12
    with connect(db) as con:
        n_rows = con.execute("SELECT count(*) FROM samples").fetchone()[0]
    assert n_rows < 12, "the worker stopped instead of generating the rest"
