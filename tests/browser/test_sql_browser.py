"""The SQL page in a real browser against the real server: attacks end in one escaped message (no
traceback box, nothing fetched), and a slow console query in one browser session holds up neither
another session nor a `workbench import` process."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.ui.serve import CHROMIUM, running_app

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("sql_browser")]

ROOT = Path(__file__).resolve().parents[2]
SLOW = "SELECT count(*) FROM range(100000000000) a"


@pytest.fixture(scope="module")
def sql_server(tmp_path_factory):
    """The app on its own demo store, with a 60 s console time limit (the slow query is killed by the test)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from workbench.demo import build_demo
    db = tmp_path_factory.mktemp("sql-browser") / "store.duckdb"
    build_demo(db)
    old = os.environ.get("WORKBENCH_SQL_TIMEOUT")
    os.environ["WORKBENCH_SQL_TIMEOUT"] = "60"
    try:
        with running_app(db) as url:
            os.environ.pop("WORKBENCH_SQL_TIMEOUT") if old is None else os.environ.update(WORKBENCH_SQL_TIMEOUT=old)
            yield url, db
    finally:
        if old is not None:
            os.environ["WORKBENCH_SQL_TIMEOUT"] = old


def workers() -> list[int]:
    """Running console query processes (any parent)."""
    found = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"workbench.store.console_worker" in cmd.read_bytes():
                found.append(int(cmd.parent.name))
        except OSError:
            continue
    return found


def run(page, url: str, sql: str) -> None:
    page.goto(url + "/sql")
    page.get_by_text("Read-only").first.wait_for(timeout=45000)
    page.get_by_label("Query").fill(sql)
    page.get_by_role("button", name="Run").click()


def test_attacks_in_the_browser(sql_server, page):
    url, db = sql_server
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    for sql, why in [
        ("DROP TABLE samples", "read-only"),
        (f"SELECT * FROM read_blob('{db}')", "read_blob() is not allowed"),
        ("SELECT * FROM duckdb_settings()", "duckdb_settings() is not allowed"),
        ("UPDATE EXTENSIONS", "not allowed"),
        ('SELECT * FROM "![x](http://127.0.0.1:9/p.png) <img src=x onerror=alert(1)>"', "no table"),
        ("SELECT length(repeat('y', 3000000000))", "memory"),
    ]:
        run(page, url, sql)
        box = page.get_by_text("Query refused")
        box.wait_for(timeout=30000)
        text = box.inner_text()
        assert why in text, (sql, text)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator("img[src*='127.0.0.1:9'], img[src='x']").count() == 0
        if "![x]" in sql:
            assert "![x](http://127.0.0.1:9/p.png) <img src=x onerror=alert(1)>" in text  # shown as text
    assert not [u for u in requests if "127.0.0.1:9/" in u]
    assert page.dialogs == []
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_slow_query_holds_up_neither_another_session_nor_an_import(sql_server, browser, tmp_path):
    url, db = sql_server
    before = set(workers())
    ctx_a, ctx_b = browser.new_context(), browser.new_context()
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        run(a, url, SLOW)
        deadline = time.monotonic() + 30
        while not set(workers()) - before:
            assert time.monotonic() < deadline, "the slow query's process did not start"
            time.sleep(0.1)
        slow = (set(workers()) - before).pop()
        run(b, url, "SELECT count(*) AS n FROM runs")
        b.get_by_text("rows in").wait_for(timeout=30000)  # the second session got its answer
        assert Path(f"/proc/{slow}").exists()  # while the first session's query still runs
        assert a.get_by_text("rows in").count() == 0 and a.get_by_text("Query refused").count() == 0
        src = tmp_path / "more.jsonl"
        src.write_text("".join(json.dumps({"id": f"m{i}", "response": f"trace {i}"}) + "\n" for i in range(20)))
        out = subprocess.run([sys.executable, "-m", "workbench.cli", "import", str(src), "--db", str(db),
                              "--run", "during-console"], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert Path(f"/proc/{slow}").exists()  # the import finished while the console query ran
        os.kill(slow, signal.SIGKILL)
        a.get_by_text("Query refused").wait_for(timeout=30000)
        assert "killed" in a.get_by_text("Query refused").inner_text()
    finally:
        for pid in set(workers()) - before:
            os.kill(pid, signal.SIGKILL)
        ctx_a.close()
        ctx_b.close()
