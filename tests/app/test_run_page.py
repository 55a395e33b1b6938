"""Run page (Streamlit AppTest): the form starts a real detached worker with the tiny model,
progress is read back from the store, and the job survives the page (a fresh AppTest finds it)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workbench.store import connect

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.xdist_group("run_tiny")]
ROOT = Path(__file__).resolve().parents[2]


def test_run_page_starts_a_worker_and_shows_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from workbench.models import jobs
    from workbench.models.testdata import write_questions
    from workbench.models.tiny import build_tiny_model
    tiny = build_tiny_model(tmp_path / "tiny")
    data = write_questions(tmp_path / "d", 3)
    db = tmp_path / "s.duckdb"
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    monkeypatch.setenv("WORKBENCH_PROBE_DIR", str(tmp_path / "probes"))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "pages" / "run.py"), default_timeout=60)
    for key, value in [("run_model", str(tiny)), ("run_data", str(data)), ("run_name", "page run"),
                       ("run_max_new_tokens", 8), ("run_dtype", "float32"), ("run_probe", True),
                       ("run_batch_size", 2)]:
        at.session_state[key] = value
    at.run()
    assert not at.exception
    at.button[0].click().run()
    assert not at.exception
    assert any("started" in s.value for s in at.success), (
        [e.value for e in at.error], [b.label for b in at.button], [t.value for t in at.text_input])
    job = at.query_params["job"]
    job = job[0] if isinstance(job, list) else job
    deadline = time.monotonic() + 600
    status = None
    while time.monotonic() < deadline:
        status = jobs.job_status(db, job)
        if status and status["status"] in ("done", "failed"):
            break
        time.sleep(1)
    assert status and status["status"] == "done", status
    assert status["n_done"] == 3 and status["tokens_generated"] > 0 and status["run_id"] == "page-run"
    assert status["batch_size"] == 2 and [r["n_done"] for r in status["replica_rows"]] == [3]
    with connect(db) as con:   # the "probe each finished sample" box: every sample probed during the run
        assert con.execute("SELECT count(*) FROM probe_traces WHERE run_id = 'page-run' AND status = 'ok' "
                           "AND token_source = 'stored'").fetchone()[0] == 3
    # a reload: a new session with ?job= in the URL shows the finished job's progress from the store
    at2 = AppTest.from_file(str(ROOT / "pages" / "run.py"), default_timeout=60)
    at2.query_params["job"] = job
    at2.run()
    assert not at2.exception
    assert any(m.label == "Done" and str(m.value) == "3" for m in at2.metric)
