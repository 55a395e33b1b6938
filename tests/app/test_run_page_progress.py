"""Run page progress view from store rows alone (no torch): metrics, ETA, escaped streaming trace."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_progress_shows_metrics_and_escapes_the_streaming_trace(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest
    from workbench.models import jobs
    from workbench.models.runner import write_sample
    db = tmp_path / "s.duckdb"
    jobs.create_job(db, "j1", "r1", backend="transformers", model="m", options={}, n_total=10)
    write_sample(db, "r1", {"sample_id": "a", "question": "q", "status": "ok", "response": "done"}, [],
                 job_id="j1", job_delta={"done": 1, "tokens": 500, "seconds": 10.0})
    write_sample(db, "r1", {"sample_id": "b", "question": "q", "status": "partial",
                            "response": "Let me think <script>alert(1)</script> & so"}, None, job_id="j1")
    status = jobs.job_status(db, "j1")
    assert status["tokens_per_second"] == 50.0 and status["eta_seconds"] == 90.0 and status["alive"]
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    at = AppTest.from_file(str(ROOT / "pages" / "run.py"), default_timeout=60)
    at.query_params["job"] = "j1"
    at.run()
    assert not at.exception
    metrics = {m.label: str(m.value) for m in at.metric}
    assert metrics["Done"] == "1" and metrics["Tokens/s"] == "50.0" and metrics["ETA"] == "1m30s"
    shown = " ".join(m.value for m in at.markdown)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; so" in shown and "<script>" not in shown
    assert any(b.label == "Cancel run" for b in at.button)
    next(b for b in at.button if b.label == "Cancel run").click().run()
    assert jobs.job_status(db, "j1")["cancel_requested"]
