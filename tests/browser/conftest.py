"""Browser tests: the real `workbench app` server on a free port, driven by Playwright in Debian's
Chromium (installed by scripts/setup.sh; never `playwright install`). Screenshots go to
test-artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.ui.serve import CHROMIUM, CHROMIUM_ARGS, running_app

XSS = "Here <script>alert(1)</script> and <img src=x onerror=alert(1)> end.\n\nThe answer is A."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    tmp = tmp_path_factory.mktemp("browser")
    db = tmp / "store.duckdb"
    from workbench.analysis.pipeline import analyze_store
    from workbench.demo import build_demo
    from workbench.ingest import import_paths
    build_demo(db)
    extra = tmp / "second.jsonl"
    extra.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "clean-bar", "question": "Which month?", "response": "March is highest.\n\nSo the answer is C.",
         "answer": "C", "correct": True},
        {"id": "xss", "question": "Escaping?", "response": XSS, "answer": "A", "correct": True}]))
    import_paths([extra], db, run="second run", progress=False)
    analyze_store(db, progress=False, workers=1)
    with running_app(db) as url:
        yield url, db


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, artifacts_dir):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    p = ctx.new_page()
    dialogs: list[str] = []
    p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    p.dialogs = dialogs  # type: ignore[attr-defined]
    yield p
    ctx.close()
