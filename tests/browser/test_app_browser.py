"""The real app in headless Chromium: every page, filters, deep links, SQL, downloads, escaping."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def wait_ready(page, text: str, timeout: float = 45000) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"browser-{name}.png"), full_page=True)


def test_overview_page(server, page, artifacts_dir):
    url, _ = server
    page.goto(url + "/")          # the default page lives at the root (Streamlit ignores its url_path)
    wait_ready(page, "Flag rate per benchmark subset")
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_text("Synthetic runs are demo data").count() == 1
    shot(page, artifacts_dir, "overview")
    assert page.get_by_text("Traceback").count() == 0


def test_traces_filter_and_open_a_trace(server, page, artifacts_dir):
    url, _ = server
    page.goto(url + "/traces")
    wait_ready(page, "matching samples")
    page.get_by_label("Search questions and responses").fill("can't see the image")
    page.keyboard.press("Enter")
    page.get_by_text("1 matching samples").wait_for(timeout=30000)
    shot(page, artifacts_dir, "traces-filtered")
    page.goto(url + "/trace?run=demo-synthetic&sample=cannot-see")
    wait_ready(page, "Trace cannot-see")
    page.locator("mark.wb-ground").first.wait_for(timeout=30000)
    shot(page, artifacts_dir, "trace-cannot-see")


def test_deep_link_to_a_step_and_loop_toggle(server, page, artifacts_dir):
    url, _ = server
    page.goto(url + "/trace?run=demo-synthetic&sample=loop-runaway&step=2")
    wait_ready(page, "Trace loop-runaway")
    page.locator("#step-2.wb-step.wb-selected").wait_for(timeout=30000)
    # a deep link as the first request still goes through app.py's navigation (titles, not file names)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Trace view" in nav and "Failures" in nav
    summary = page.locator("details.wb-collapsed summary").first
    assert "repeated 40 times" in summary.inner_text()
    summary.click()
    assert page.locator("details.wb-collapsed[open]").count() == 1
    shot(page, artifacts_dir, "trace-loop")


def test_html_in_traces_is_shown_as_text(server, page, artifacts_dir):
    url, _ = server
    page.goto(url + "/trace?run=second-run&sample=xss")
    wait_ready(page, "Trace xss")
    page.get_by_text("<script>alert(1)</script>", exact=False).first.wait_for(timeout=20000)
    assert page.get_by_text("<img src=x onerror=alert(1)>", exact=False).count() >= 1
    page.wait_for_timeout(500)
    assert page.dialogs == []  # no alert() ran
    shot(page, artifacts_dir, "trace-xss")


def test_sql_query_forbidden_query_and_csv_download(server, page, artifacts_dir, tmp_path):
    url, _ = server
    page.goto(url + "/sql")
    wait_ready(page, "Read-only")
    box = page.get_by_label("Query")
    box.fill("SELECT detector, count(*) AS n FROM flags GROUP BY 1 ORDER BY 1")
    page.get_by_role("button", name="Run").click()
    page.get_by_text("rows in").wait_for(timeout=30000)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp_path / "q.csv"
    dl.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "detector,n" and lines[1].startswith("grounding_loss,")
    shot(page, artifacts_dir, "sql")
    box.fill("DROP TABLE samples")
    page.get_by_role("button", name="Run").click()
    page.get_by_text("Query refused").wait_for(timeout=30000)
    assert "read-only" in page.get_by_text("Query refused").inner_text()
    shot(page, artifacts_dir, "sql-refused")


def test_failures_and_compare_pages(server, page, artifacts_dir):
    url, _ = server
    page.goto(url + "/failures")
    wait_ready(page, "Findings by detector and severity")
    shot(page, artifacts_dir, "failures")
    page.goto(url + "/compare?run=demo-synthetic&sample=clean-bar")
    wait_ready(page, "aligned steps")
    page.locator("table.wb-cmp").wait_for(timeout=30000)
    shot(page, artifacts_dir, "compare")


def test_clusters_page_after_clustering(server, page, artifacts_dir):
    url, db = server
    from workbench.cluster import run_clustering
    page.goto(url + "/clusters")
    wait_ready(page, "No clusterings yet")
    run_clustering(db, unit="step", method="kmeans", k=3)     # while the app is open: visible after a reload
    page.reload()
    wait_ready(page, "representatives")
    page.locator(".js-plotly-plot .scatterlayer").first.wait_for(timeout=60000)   # the cluster map is drawn
    page.locator('[data-testid="stDataFrame"] canvas').first.wait_for(timeout=60000)
    assert page.get_by_text("8 units in 3 clusters").count() == 1   # the demo's decline is opt-in now
    assert page.get_by_text("Traceback").count() == 0
    page.wait_for_timeout(500)
    shot(page, artifacts_dir, "clusters")
