"""Failure reports: golden Markdown of the demo run; self-contained HTML opened in headless Chromium
(no network requests, `<script>` in a trace shown as text, screenshot); filters are read-only."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from workbench.errors import QueryRefused
from workbench.report import write_report

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "report_demo.md"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS = "I can't see the image <script>window.__xss = 1</script> you gave me.\n\nSo the answer is A."


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    from workbench.cluster import run_clustering
    from workbench.demo import build_demo
    db = tmp_path_factory.mktemp("report") / "demo.duckdb"
    run = build_demo(db)
    run_clustering(db, runs=[run], method="kmeans", k=3, seed=0)
    return db


def test_markdown_report_matches_golden(demo_db: Path, tmp_path: Path, monkeypatch) -> None:
    """Regenerate with: UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/integration/test_report.py -k golden"""
    monkeypatch.setenv("WORKBENCH_APP_URL", "http://127.0.0.1:8501")
    out = write_report(demo_db, "demo-synthetic", tmp_path / "report.md", "md")
    text = out.read_text(encoding="utf-8")
    images = sorted(p.name for p in (tmp_path / "report_files").iterdir())
    assert images and all(f"report_files/{name}" in text for name in images)
    assert str(tmp_path) not in text and not re.search(r"\d{4}-\d\d-\d\d[ T]\d\d:", text)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "no golden file: run with UPDATE_GOLDEN=1 once"
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_links_follow_the_configured_app_address(demo_db: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("WORKBENCH_APP_URL", raising=False)
    for fmt in ("md", "html"):
        text = write_report(demo_db, "demo-synthetic", tmp_path / f"r.{fmt}", fmt).read_text(encoding="utf-8")
        assert ("WORKBENCH_APP_URL" in text or "WORKBENCH\\_APP\\_URL" in text) and "/trace?" not in text
        assert "open in the app" not in text
    monkeypatch.setenv("WORKBENCH_APP_URL", "https://wb.example.org:9000/")
    text = write_report(demo_db, "demo-synthetic", tmp_path / "r2.md", "md").read_text(encoding="utf-8")
    assert "(<https://wb.example.org:9000/trace?run=demo-synthetic&sample=cannot-see>)" in text
    assert "WORKBENCH_APP_URL" not in text and "WORKBENCH\\_APP\\_URL" not in text


def test_filter_narrows_and_cannot_touch_files(demo_db: Path, tmp_path: Path) -> None:
    out = write_report(demo_db, "demo-synthetic", tmp_path / "r.md", "md", where="sample_id = 'cannot-see'")
    text = out.read_text(encoding="utf-8")
    assert "### cannot\\-see" in text and "### mix\\-words" not in text
    with pytest.raises(QueryRefused):
        write_report(demo_db, "demo-synthetic", tmp_path / "x.md", "md",
                     where=f"EXISTS (SELECT * FROM read_csv('{tmp_path / 'r.md'}'))")
    with pytest.raises(QueryRefused):
        write_report(demo_db, "demo-synthetic", tmp_path / "x.md", "md", where="true; DROP TABLE samples")


def test_data_exports_follow_the_filter(demo_db: Path, tmp_path: Path) -> None:
    from workbench.report.exports import export_report_data
    written = dict(export_report_data(demo_db, "demo-synthetic", tmp_path / "d", "jsonl",
                                      where="sample_id = 'cannot-see'"))
    rows = [json.loads(line) for line in (tmp_path / "d" / "samples.jsonl").read_text().splitlines()]
    assert [r["sample_id"] for r in rows] == ["cannot-see"]
    assert written[tmp_path / "d" / "flags.jsonl"] >= 1


def test_html_report_offline_in_chromium(demo_db: Path, tmp_path: Path, artifacts_dir: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    from workbench.analysis.pipeline import analyze_store
    from workbench.ingest import import_paths
    from workbench.store import connect
    src = tmp_path / "xss.jsonl"
    src.write_text(json.dumps({"id": "xss", "question": "What is <b>shown</b>?", "response": XSS, "answer": "A",
                               "correct": False}) + "\n")
    import_paths([src], demo_db, run="xss run", progress=False)
    analyze_store(demo_db, runs=["xss-run"], progress=False, workers=1)
    with connect(demo_db) as con:  # a finding on the step holding the <script> (whatever the detectors say)
        step, a = con.execute("SELECT step_index, char_start FROM steps WHERE run_id = 'xss-run' "
                              "AND sample_id = 'xss' ORDER BY step_index LIMIT 1").fetchone()
        con.execute("DELETE FROM flags WHERE run_id = 'xss-run'")
        con.execute("INSERT INTO flags (run_id, sample_id, detector, detector_version, finding_index, step_index, "
                    "char_start, char_end, severity, score) VALUES ('xss-run', 'xss', 'grounding_loss', 'test', 0, "
                    "?, ?, ?, 'cannot_see', 1.0)", [step, a, a + 21])
    out = write_report(demo_db, "xss run", tmp_path / "xss.html", "html")
    assert "<script>window" not in out.read_text(encoding="utf-8")
    demo = write_report(demo_db, "demo-synthetic", tmp_path / "demo.html", "html")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        page.wait_for_load_state("load")
        assert "<script>window.__xss = 1</script>" in page.inner_text("body")
        assert page.evaluate("window.__xss === undefined")
        page.goto(demo.as_uri())
        page.wait_for_load_state("load")
        assert page.locator("img").count() >= 3
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(artifacts_dir / "report_demo.png"), full_page=False)
        browser.close()
    assert requests == [out.as_uri(), demo.as_uri()], requests
