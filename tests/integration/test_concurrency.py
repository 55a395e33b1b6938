"""The store is shared by processes: the app stays open while imports write, nothing is lost.

Every process opens the store for one unit of work and retries while another holds the lock
(workbench/store/db.py). These tests use real second processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.store import connect
from workbench.ui.serve import CHROMIUM, CHROMIUM_ARGS, running_app

ROOT = Path(__file__).resolve().parents[2]
WB = [sys.executable, "-m", "workbench.cli"]
HOLD = """
import sys, time
from workbench.store import connect
from workbench.ui.serve import CHROMIUM, CHROMIUM_ARGS, running_app
with connect(sys.argv[1]) as con:
    con.execute("BEGIN")
    con.execute("INSERT INTO runs (run_id, name) VALUES ('holder', 'holder')")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    con.execute("COMMIT")
"""


def jsonl(path: Path, n: int, prefix: str) -> Path:
    path.write_text("".join(json.dumps({"id": f"{prefix}{i}", "response": f"trace {i}"}) + "\n" for i in range(n)))
    return path


def hold_store(db: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_import_waits_for_another_writer_and_loses_nothing(tmp_path, tmp_db):
    with connect(tmp_db):
        pass
    holder = hold_store(tmp_db, 2.5)
    start = time.monotonic()
    out = subprocess.run([*WB, "import", str(jsonl(tmp_path / "a.jsonl", 50, "a")), "--db", str(tmp_db)],
                         capture_output=True, text=True, cwd=ROOT)
    waited = time.monotonic() - start
    assert holder.wait(10) == 0
    assert out.returncode == 0, out.stderr
    assert waited > 1.0  # it really had to wait for the lock
    with connect(tmp_db) as con:
        assert con.execute("SELECT count(*) FROM samples").fetchone() == (50,)
        assert con.execute("SELECT run_id FROM runs ORDER BY 1").fetchall() == [("a",), ("holder",)]


def test_readers_wait_too(tmp_path, tmp_db):
    with connect(tmp_db):
        pass
    holder = hold_store(tmp_db, 1.5)
    out = subprocess.run([*WB, "sql", "SELECT count(*) AS n FROM runs", "--db", str(tmp_db), "--format", "csv"],
                         capture_output=True, text=True, cwd=ROOT)
    assert holder.wait(10) == 0
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["n", "1"]  # saw the holder's committed row


def test_lock_timeout_gives_a_clear_message(tmp_path, tmp_db):
    with connect(tmp_db):
        pass
    holder = hold_store(tmp_db, 3)
    out = subprocess.run([*WB, "import", str(jsonl(tmp_path / "b.jsonl", 3, "b")), "--db", str(tmp_db)],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, WORKBENCH_LOCK_TIMEOUT="0.5"))
    holder.wait(10)
    assert out.returncode == 1
    assert "locked by another process" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.browser
def test_app_stays_up_while_import_writes_and_shows_new_data_after_refresh(tmp_path, tmp_db, artifacts_dir):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright
    subprocess.run([*WB, "import", str(jsonl(tmp_path / "first.jsonl", 5, "f")), "--db", str(tmp_db)],
                   check=True, capture_output=True, cwd=ROOT)
    with running_app(tmp_db) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url + "/")
        page.get_by_text("Runs", exact=True).wait_for(timeout=30000)
        page.get_by_text("first", exact=True).first.wait_for(state="attached", timeout=30000)
        # an import in another process while the app is open and has read the store
        out = subprocess.run([*WB, "import", str(jsonl(tmp_path / "second.jsonl", 7, "s")), "--db", str(tmp_db)],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        page.reload()
        page.get_by_text("second", exact=True).first.wait_for(state="attached", timeout=30000)
        page.screenshot(path=str(artifacts_dir / "concurrency-after-import.png"), full_page=True)
        assert page.get_by_text("Traceback").count() == 0
        browser.close()


# an analysis whose chunks take a while (each worker sleeps 0.4 s per chunk of 10 samples): the parent
# holds its connection across reads and writes, but never idle for longer than HOLD_SECONDS
SLOW_ANALYSIS = """
import sys, time
from workbench.analysis import pipeline
pipeline.CHUNK = pipeline.MIN_CHUNK = 10
real = pipeline._analyse_chunk_prepared
def slow(samples):
    time.sleep(0.4)
    return real(samples)
pipeline._analyse_chunk_prepared = slow
print("start", flush=True)
res = pipeline.analyze_store(sys.argv[1], progress=False, workers=2)
print("done", res.analysed["steps"], flush=True)
"""


def test_another_process_opens_the_store_while_an_analysis_runs(tmp_path):
    from workbench.analysis.pipeline import HOLD_SECONDS
    from workbench.ingest import import_paths
    from workbench.store.db import open_with_retry
    db = tmp_path / "store.duckdb"
    import_paths([jsonl(tmp_path / "a.jsonl", 200, "s")], db, progress=False)
    child = subprocess.Popen([sys.executable, "-c", SLOW_ANALYSIS, str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert child.stdout is not None and child.stdout.readline().strip() == "start"
    waits = []
    while child.poll() is None:
        t = time.monotonic()
        try:
            con = open_with_retry(db, read_only=True, timeout=HOLD_SECONDS + 3)
        except Exception:   # the child finished and exited between poll() and the open: fine
            if child.poll() is None:
                raise
            break
        waits.append(time.monotonic() - t)
        n = con.execute("SELECT count(*) FROM analysis_status").fetchone()[0]
        con.close()
        time.sleep(0.2)
    out = child.stdout.read()
    assert child.wait() == 0 and out.strip() == "done 200"
    assert len(waits) >= 5, waits            # several opens while it ran (2.5 s of sleeping workers, at least)
    assert max(waits) < HOLD_SECONDS + 2.5   # the lock was never kept from us for long
    assert n >= 0
