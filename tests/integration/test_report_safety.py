"""Data is text in reports (issue 14 item 2): hostile text in every field of a run (run name, sample id,
question, answer, ground truth, step text, cluster excerpt) does nothing when the reports are opened.
The Markdown report is rendered by a CommonMark renderer (markdown-it-py, the Python port of
markdown-it, with raw HTML allowed: the most permissive viewer) and the HTML report as it is, both in
headless Chromium: no request leaves the report's folder and no script runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.report import write_report

CHROMIUM = "/usr/bin/chromium"
HOST = "192.0.2.1"   # TEST-NET-1: never routed; any request to it is a failure
EVIL = (f"![x](http://{HOST}/md-image.png) <img src=http://{HOST}/html-image.png onerror=\"window.__xss=1\"> "
        f"[link](http://{HOST}/link) <script>window.__xss=2</script> $\\href{{http://{HOST}}}{{y}}$ "
        f"<svg onload=\"window.__xss=3\"></svg> `code` **bold** | cell |")


@pytest.fixture(scope="module")
def hostile_reports(tmp_path_factory):
    from workbench.analysis.pipeline import analyze_store
    from workbench.cluster import run_clustering
    from workbench.ingest import import_paths
    from workbench.store import connect
    tmp = tmp_path_factory.mktemp("hostile")
    db = tmp / "store.duckdb"
    rows = []
    for i in range(4):
        loop = f"So the total is {i} plus three, {EVIL}, let me add it again. " * 40
        rows.append({"id": f"s{i} {EVIL}", "question": f"Question {i}: {EVIL}\n\n# heading {EVIL}",
                     "response": f"First step {EVIL}, 所以 I can't see the image you gave me.\n\n{loop}\n\n"
                                 f"So the answer is {EVIL}.",
                     "answer": f"A {EVIL}", "correct": False})
    src = tmp / "evil.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_name = f"run {EVIL}"
    import_paths([src], db, run=run_name, progress=False)
    analyze_store(db, progress=False, workers=1)
    with connect(db) as con:
        run_id = con.execute("SELECT run_id FROM runs").fetchone()[0]
        assert con.execute("SELECT count(*) FROM flags").fetchone()[0] > 0
    run_clustering(db, runs=[run_id], method="kmeans", k=2)
    out = tmp / "out"
    md = write_report(db, run_id, out / "report.md", "md")
    html = write_report(db, run_id, out / "report.html", "html")
    return md, html, out


def _markdown_pages(md: Path) -> list[Path]:
    from markdown_it import MarkdownIt
    text = md.read_text(encoding="utf-8")
    pages = []
    for name, renderer in (("commonmark", MarkdownIt("commonmark", {"html": True})),
                           ("gfm", MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough"))):
        page = md.parent / f"rendered-{name}.html"
        page.write_text("<!DOCTYPE html><meta charset=utf-8><body>" + renderer.render(text) + "</body>",
                        encoding="utf-8")
        pages.append(page)
    return pages


def test_markdown_source_escapes_every_field(hostile_reports):
    md, _, _ = hostile_reports
    from markdown_it import MarkdownIt
    text = md.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    import re
    assert first.startswith("# Failure report: run ")
    assert not re.search(r"(?<!\\)[<\[]", first) and not re.search(r"(?<!\\)!\\?\[", first)  # all escaped
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    for tag in ("<script", "<svg", "<iframe"):
        assert tag not in html, tag
    srcs = re.findall(r'<img src="([^"]*)"', html)
    assert srcs and all(s.startswith("report_files/") for s in srcs), srcs   # only the report's own files
    assert not re.search(r"<[^>]*\son\w+\s*=", html), "an event handler inside a tag"   # as text it is harmless
    assert f'src="http://{HOST}' not in html and f'href="http://{HOST}' not in html
    assert "window.__xss" in html    # the payloads are there, as text


@pytest.mark.browser
def test_both_reports_in_chromium_fetch_nothing_and_run_nothing(hostile_reports, artifacts_dir):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright
    md, html, out = hostile_reports
    pages = [*_markdown_pages(md), html]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        requests: list[str] = []
        dialogs: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for p in pages:
            page.goto(p.as_uri())
            page.wait_for_load_state("load")
            page.wait_for_timeout(300)
            assert page.evaluate("window.__xss === undefined"), p.name
            assert page.locator("script, iframe, object, embed").count() == 0
            assert "window.__xss" in page.inner_text("body")          # shown as text
            page.screenshot(path=str(artifacts_dir / f"report-hostile-{p.stem}.png"))
        browser.close()
    assert dialogs == []
    outside = [u for u in requests if not u.startswith(out.as_uri())]
    assert outside == [], outside
