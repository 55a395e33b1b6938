"""Run page in a real Streamlit server + headless Chromium: a detached tiny-model job with two
replicas and batching streams its trace into the page with tokens/s per replica, survives a
reload, and is cancelled from the browser (both replicas stop)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workbench.ui.serve import CHROMIUM, CHROMIUM_ARGS, running_app

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.browser, pytest.mark.xdist_group("run_tiny")]
ROOT = Path(__file__).resolve().parents[2]


def test_run_page_follows_a_worker_across_reloads_and_cancels_it(tmp_path: Path, artifacts_dir: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    from workbench.models import jobs
    from workbench.models.testdata import write_questions
    from workbench.models.tiny import build_tiny_model
    tiny = build_tiny_model(tmp_path / "tiny")
    data = write_questions(tmp_path / "d", 40)
    db = tmp_path / "s.duckdb"
    from workbench.store import connect
    with connect(db):   # the app opens an existing store (a --db that does not exist is an error)
        pass
    job = jobs.new_job_id()
    jobs.start_detached(["--model", str(tiny), "--data", str(data), "--db", str(db), "--dtype", "float32",
                         "--max-new-tokens", "3000", "--progress-interval", "0.5", "--run", "browser run",
                         "--replicas", "2", "--batch-size", "2"],
                        log_dir=tmp_path / "logs", job_id=job)
    with running_app(db) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/run?job={job}")
        page.get_by_text(f"Job {job}").wait_for(timeout=60000)
        page.get_by_text("Current sample", exact=False).first.wait_for(timeout=300000)
        page.get_by_text("2 replica(s), batch size 2 each", exact=False).first.wait_for(timeout=60000)
        assert page.locator('[data-testid="stDataFrame"]').count() >= 1   # the per-replica table
        page.reload()   # the worker is a separate process: a reload finds it again from the URL
        page.get_by_text("Current sample", exact=False).first.wait_for(timeout=60000)
        assert jobs.job_status(db, job)["status"] == "running"
        page.screenshot(path=str(artifacts_dir / "run-page-streaming.png"), full_page=True)
        page.get_by_role("button", name="Cancel run").click()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and jobs.job_status(db, job)["status"] == "running":
            time.sleep(0.5)
        st = jobs.job_status(db, job)
        assert st["status"] == "cancelled" and st["n_done"] < 40
        assert [r["status"] for r in st["replica_rows"]] == ["cancelled", "cancelled"]
        page.get_by_text("cancelled:", exact=False).first.wait_for(timeout=30000)
        assert page.get_by_text("Traceback").count() == 0
        browser.close()
