"""Run page progress view from store rows alone (no torch): metrics, ETA, escaped streaming trace."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_progress_shows_metrics_and_escapes_the_streaming_trace(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from workbench.models import jobs
    from workbench.store import generation as gstore
    db = tmp_path / "s.duckdb"
    gstore.create_job(db, "j1", "r1", backend="transformers", model="m", options={}, n_total=10, replicas=2,
                      batch_size=8)
    gstore.write_progress(db, "r1", "j1", samples=[{"sample_id": "a", "question": "q", "status": "ok",
                                                   "response": "done"}], tokens={"a": []},
                          job={"n_done": 1, "tokens_generated": 500, "generation_seconds": 10.0})
    gstore.write_progress(db, "r1", "j1", samples=[{"sample_id": "b", "question": "q", "status": "partial",
                                                   "response": "Let me think <script>alert(1)</script> & so"}],
                          job={"n_done": 1, "tokens_generated": 500, "generation_seconds": 10.0, "current_sample": "b"},
                          replicas=[{"replica": 0, "pid": 11, "gpus": "0,1", "n_done": 1, "tokens_generated": 300,
                                     "busy_seconds": 10.0, "in_flight": 8},
                                    {"replica": 1, "pid": 12, "gpus": "2,3", "tokens_generated": 200,
                                     "busy_seconds": 8.0, "in_flight": 8}])
    status = jobs.job_status(db, "j1")
    assert status["tokens_per_second"] == 50.0 and status["eta_seconds"] == 90.0 and status["alive"]
    assert [r["tokens_per_second"] for r in status["replica_rows"]] == [30.0, 25.0]
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    at = AppTest.from_file(str(ROOT / "pages" / "run.py"), default_timeout=60)
    at.query_params["job"] = "j1"
    at.run()
    assert not at.exception
    metrics = {m.label: str(m.value) for m in at.metric}
    assert metrics["Done"] == "1" and metrics["Tokens/s"] == "50.0" and metrics["ETA"] == "1m30s"
    per_replica = at.dataframe[0].value   # tokens/s of each replica, from its own tokens and busy time
    assert list(per_replica["tokens/s"]) == [30.0, 25.0] and list(per_replica["GPUs"]) == ["0,1", "2,3"]
    shown = " ".join(m.value for m in at.markdown)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; so" in shown and "<script>" not in shown
    assert any(b.label == "Cancel run" for b in at.button)
    next(b for b in at.button if b.label == "Cancel run").click().run()
    assert jobs.job_status(db, "j1")["cancel_requested"]
