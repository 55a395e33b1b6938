"""Run page in a real Streamlit server + headless Chromium: a detached tiny-model job streams its
trace into the page, survives a reload, and is cancelled from the browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.browser, pytest.mark.xdist_group("run_tiny")]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_page_follows_a_worker_across_reloads_and_cancels_it(tmp_path: Path, artifacts_dir: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright
    from workbench.models import jobs
    from workbench.models.testdata import write_questions
    from workbench.models.tiny import build_tiny_model
    tiny = build_tiny_model(tmp_path / "tiny")
    data = write_questions(tmp_path / "d", 40)
    db = tmp_path / "s.duckdb"
    job = jobs.new_job_id()
    jobs.start_detached(["--model", str(tiny), "--data", str(data), "--db", str(db), "--dtype", "float32",
                         "--max-new-tokens", "3000", "--progress-interval", "0.5", "--run", "browser run"],
                        log_dir=tmp_path / "logs", job_id=job)
    port = free_port()
    app = subprocess.Popen([sys.executable, "-m", "workbench.cli", "app", "--db", str(db), "--port", str(port)],
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/run?job={job}")
            page.get_by_text(f"Job {job}").wait_for(timeout=60000)
            page.get_by_text("Current sample", exact=False).first.wait_for(timeout=120000)
            page.reload()   # the worker is a separate process: a reload finds it again from the URL
            page.get_by_text("Current sample", exact=False).first.wait_for(timeout=60000)
            assert jobs.job_status(db, job)["status"] == "running"
            page.screenshot(path=str(artifacts_dir / "run-page-streaming.png"), full_page=True)
            page.get_by_role("button", name="Cancel run").click()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and jobs.job_status(db, job)["status"] == "running":
                time.sleep(0.5)
            st = jobs.job_status(db, job)
            assert st["status"] == "cancelled" and st["n_done"] < 40
            page.get_by_text("cancelled:", exact=False).first.wait_for(timeout=30000)
            assert page.get_by_text("Traceback").count() == 0
            browser.close()
    finally:
        os.killpg(app.pid, 15)
        app.wait(10)
