"""Triage at scale in the browser (issue 16), on thousands of QVQ-like traces the project generates
(workbench/demo_long.py: long traces, 60-character shared id prefixes, loops of up to 263 copies,
language mixing, Markdown/LaTeX, hostile text), or on any analysed store given as
WORKBENCH_TRIAGE_STORE (e.g. the dev set). Real server, Debian Chromium at 1440 px. Every test also
checks that no request left the machine."""

from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path

import pytest

from workbench.store import connect
from workbench.ui.serve import CHROMIUM, running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]
N_TRACES = 2000


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    given = os.environ.get("WORKBENCH_TRIAGE_STORE")
    if given:
        return Path(given)
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    from workbench.analysis.pipeline import analyze_store
    from workbench.cluster import run_clustering
    from workbench.demo_long import write_traces
    from workbench.ingest import import_paths
    tmp = tmp_path_factory.mktemp("triage")
    db = tmp / "store.duckdb"
    import_paths([write_traces(tmp / "long.jsonl", N_TRACES)], db, run="long", progress=False)
    analyze_store(db, progress=False, workers=1)
    run_clustering(db, unit="sample", method="kmeans", k=6)
    return db


@pytest.fixture(scope="module")
def server(store):
    with running_app(store) as url:
        yield url, store


@pytest.fixture
def page(browser, server):
    url, _ = server
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    ctx.set_default_timeout(180000)            # a shared 2-core machine: Streamlit reruns can take a while
    p = ctx.new_page()
    requests: list[str] = []
    p.on("request", lambda r: requests.append(r.url))
    yield p
    ctx.close()
    off = [u for u in requests if not u.startswith((url, "data:", "blob:" + url, "about:", "file://"))]
    assert off == [], f"requests left the machine: {off[:5]}"


def settle(page, ready: str | None = None, timeout: float = 120000) -> None:
    """Wait for `ready` (a selector) and for Streamlit to finish running the script."""
    if ready:
        page.locator(ready).first.wait_for(timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def shot(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"triage-{name}.png"))


def matching(page) -> int:
    text = page.get_by_text(re.compile(r"[\d,]+ matching samples")).first.inner_text()
    return int(text.split(" matching")[0].replace(",", ""))


def q(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with connect(db) as con:
        return con.execute(sql, params or []).fetchall()


def first_row(page) -> None:
    """Select the first row of the first table (the row-marker column of the grid)."""
    box = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
    page.mouse.move(box["x"] + 18, box["y"] + 52)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + 18, box["y"] + 52)


# ---- 2. state in the URL; Back restores it; prev/next and j/k walk the filtered list -----------------
def test_filters_live_in_the_url_and_back_restores_them(server, page, artifacts_dir):
    url, db = server
    page.goto(url + "/traces?det=language_mixing&answer=wrong")
    settle(page, '[data-testid="stDataFrame"] canvas')
    n = matching(page)
    total = q(db, "SELECT count(*) FROM samples")[0][0]
    assert 0 < n < total
    shot(page, artifacts_dir, "traces-filtered")
    first_row(page)
    page.wait_for_url(re.compile(r"/trace\?.*l_det=language_mixing"), timeout=180000)
    settle(page, "#step-0")
    page.get_by_text(re.compile(rf"1 of {n:,} in the list")).wait_for()
    page.go_back()
    page.wait_for_url(re.compile(r"/traces\?det=language_mixing&answer=wrong"), timeout=180000)
    settle(page, '[data-testid="stDataFrame"] canvas')
    assert matching(page) == n
    # a filter change writes the URL too (sort by a loop measurement, descending)
    page.goto(url + "/traces?det=repetition_loop&sort=chars_wasted&desc=true")
    settle(page, '[data-testid="stDataFrame"] canvas')
    assert "sort=chars_wasted" in page.url and "desc=true" in page.url


def test_prev_next_and_keys_walk_the_filtered_list(server, page, artifacts_dir):
    url, db = server
    flagged = [r[0] for r in q(db, "SELECT DISTINCT sample_id FROM flags WHERE detector = 'repetition_loop' "
                                   "ORDER BY sample_id LIMIT 3")]
    from workbench import urls
    run = q(db, "SELECT run_id FROM samples WHERE sample_id = ?", [flagged[0]])[0][0]
    page.goto(url + "/" + urls.trace_path(run, flagged[0], context={"det": ["repetition_loop"]}))
    settle(page, "#step-0")
    page.get_by_text(re.compile(r"^1 of [\d,]+ in the list")).wait_for()
    page.keyboard.press("j")                      # next in the list, not the next flagged by anything
    page.wait_for_url(re.compile(re.escape("sample=" + urls.quote_param(flagged[1]))), timeout=180000)
    settle(page, "#step-0")
    page.get_by_text(re.compile(r"^2 of [\d,]+ in the list")).wait_for()
    page.get_by_role("button", name="next (j) ▶").click()
    page.wait_for_url(re.compile(re.escape("sample=" + urls.quote_param(flagged[2]))), timeout=180000)
    settle(page, "#step-0")
    page.get_by_text(re.compile(r"^3 of [\d,]+ in the list")).wait_for()
    page.keyboard.press("k")
    page.wait_for_url(re.compile(re.escape("sample=" + urls.quote_param(flagged[1]))), timeout=180000)
    page.get_by_text(re.compile(r"^2 of [\d,]+ in the list")).wait_for()
    page.get_by_role("link", name="back to the list").click()
    page.wait_for_url(re.compile(r"/traces\?det=repetition_loop"), timeout=180000)
    shot(page, artifacts_dir, "back-to-list")


# ---- 3. deep links land on the step; step links select in place ---------------------------------------
def test_deep_link_scrolls_to_the_step_and_step_links_select_in_place(server, page, artifacts_dir):
    url, db = server
    from workbench import urls
    run, sample, last = q(db, "SELECT run_id, sample_id, max(step_index) FROM steps GROUP BY ALL "
                              "ORDER BY 3 DESC, 2 LIMIT 1")[0]
    target = int(last) - 2
    page.goto(url + "/" + urls.trace_path(run, sample, target))
    settle(page, f"#step-{target}.wb-selected")
    page.wait_for_function(f"""() => {{ const r = document.getElementById('step-{target}').getBoundingClientRect();
                                       return r.top >= 0 && r.bottom <= window.innerHeight; }}""", timeout=180000)
    shot(page, artifacts_dir, "deep-link")
    page.evaluate("window.__noReload = 1")
    other = target - 3
    page.locator(f'#step-{other} a[data-step="{other}"]').click()
    page.wait_for_url(re.compile(rf"step={other}\b"), timeout=180000)
    page.locator(f"#step-{other}.wb-selected").wait_for(timeout=180000)
    assert page.evaluate("window.__noReload") == 1          # the same page: no full reload


# ---- 4. tables for triage at 1440 px; the CSV has the same columns and a trace link ----------------------
def _visible_headers(page) -> list[str]:
    # the grid keeps an accessible table of the columns it draws (those in view)
    return page.locator('[data-testid="stDataFrame"] [role="columnheader"]').all_inner_texts()


def test_tables_show_link_id_and_detectors_without_scrolling(server, page, artifacts_dir, tmp_path):
    url, db = server
    page.goto(url + "/traces")
    settle(page, '[data-testid="stDataFrame"] canvas')
    heads = _visible_headers(page)
    assert heads[:3] == ["open", "sample", "detectors"], heads
    shot(page, artifacts_dir, "traces-1440")
    page.goto(url + "/failures?det=repetition_loop&fsort=chars_wasted&fdesc=true")
    settle(page, '[data-testid="stDataFrame"] canvas')
    heads = _visible_headers(page)
    assert heads[:4] == ["open", "sample", "detector", "severity"] and "chars wasted" in heads, heads
    shot(page, artifacts_dir, "failures-1440")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download this page (CSV)").click()
    path = tmp_path / "findings.csv"
    dl.value.save_as(path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows and next(iter(rows[0])) == "trace_link" and {"copies", "chars_wasted", "period_chars"} <= set(rows[0])
    assert rows[0]["trace_link"].startswith("trace?run=") and "sample=" in rows[0]["trace_link"]
    wasted = [float(r["chars_wasted"]) for r in rows if r["chars_wasted"]]
    assert wasted == sorted(wasted, reverse=True)           # sorted by the measurement, as on the page
    biggest = q(db, "SELECT max(TRY_CAST(json_extract_string(details, '$.chars_wasted') AS INT)) FROM flags")[0][0]
    assert wasted[0] == biggest


# ---- 5. charts with n and intervals, denominators that fit, no empty plots --------------------------
def test_charts_label_every_subset_and_show_n(server, page, artifacts_dir):
    url, db = server
    page.goto(url + "/")
    settle(page, ".js-plotly-plot")
    page.get_by_text("Flag rate per benchmark subset").first.wait_for(timeout=180000)
    page.wait_for_timeout(1500)
    info = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
        title: (el.querySelector('.gtitle') || {}).textContent || '',
        yticks: Array.from(el.querySelectorAll('.ytick text')).map(t => t.textContent),
        errorbars: el.querySelectorAll('.errorbar').length,
        text: (el.data || []).map(t => t.text || [])}))""")
    rates = next(i for i in info if i["title"] and i["title"].startswith("Flag rate per benchmark subset"))
    subsets = q(db, "SELECT count(DISTINCT coalesce(benchmark, '') || coalesce(subset, '')) FROM samples")[0][0]
    assert len(rates["yticks"]) == subsets and rates["errorbars"] > 0        # every subset labelled
    acc = next(i for i in info if i["title"] and i["title"].startswith("Accuracy with vs without"))
    assert acc["errorbars"] > 0 and all(t.startswith("n=") for tr in acc["text"] for t in tr)
    shot(page, artifacts_dir, "overview")
    run, text_only = q(db, "SELECT s.run_id, s.sample_id FROM samples s JOIN steps USING (run_id, sample_id) "
                           "WHERE s.n_images = 0 GROUP BY ALL HAVING sum(image_ref_count) = 0 LIMIT 1")[0]
    from workbench import urls
    page.goto(url + "/" + urls.trace_path(run, text_only))
    settle(page, "#step-0")
    assert page.get_by_text("Signals along the trace").count() == 0            # nothing to plot: no plot


# ---- 6. clusters: span highlighted; the report works on this run -----------------------------------
def test_clusters_mark_the_span_and_the_report_downloads(server, page, artifacts_dir, tmp_path):
    url, _db = server
    page.goto(url + "/clusters")
    settle(page, "mark.wb-span")
    assert page.get_by_text("purity against detector:severity", exact=False).count() == 1
    shot(page, artifacts_dir, "clusters")
    page.get_by_role("button", name="Prepare HTML report").click()
    with page.expect_download(timeout=180000) as dl:
        page.get_by_role("button", name="Download report (HTML)").click(timeout=180000)
    path = tmp_path / "report.html"
    dl.value.save_as(path)
    page.goto(path.as_uri())
    page.get_by_text("Failure report").first.wait_for()
    assert page.get_by_text("Flag rates").count() >= 1
    shot(page, artifacts_dir, "report-from-clusters")


# ---- 7. loops, Markdown/LaTeX through the safe renderer, tags on steps ---------------------------------
def test_loop_reads_as_repeated_n_times_and_markdown_is_safe(server, page, artifacts_dir):
    url, db = server
    from workbench import urls
    run, sample, step, copies = q(db, "SELECT run_id, sample_id, step_index, json_extract_string(details, '$.copies') "
                                      "FROM flags WHERE severity = 'runaway' OR (detector = 'repetition_loop' AND "
                                      "TRY_CAST(json_extract_string(details, '$.copies') AS INT) > 100) "
                                      "ORDER BY sample_id LIMIT 1")[0]
    page.goto(url + "/" + urls.trace_path(run, sample, step))
    settle(page, "details.wb-collapsed summary")
    summary = page.locator("details.wb-collapsed summary").first.inner_text()
    assert re.search(rf"repeated {copies} times \([\d,]+ characters\)", summary), summary
    shot(page, artifacts_dir, "loop")
    hostile = q(db, "SELECT run_id, sample_id FROM samples WHERE response LIKE '%onerror=alert(1)%' LIMIT 1")
    if not hostile:
        pytest.skip("the store has no hostile trace (the generated fixture has)")
    page.goto(url + "/" + urls.trace_path(*hostile[0]))
    settle(page, "#step-0")
    page.get_by_text("Render Markdown and LaTeX").click()
    settle(page, ".wb-md .wb-math")
    assert page.locator(".wb-md .wb-frac").count() >= 1          # formulas drawn (fractions stacked)
    assert page.locator(".wb-trace img, .wb-trace script, .wb-trace a[href^='http']").count() == 0
    assert page.locator(".wb-trace .wb-img").count() >= 1        # a Markdown image from data shows as text
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.wait_for_timeout(500)
    assert dialogs == []
    shot(page, artifacts_dir, "markdown-latex")


def test_tags_set_from_failures_show_on_their_step_and_filter(server, page, artifacts_dir):
    url, db = server
    page.goto(url + "/failures?det=grounding_loss")
    settle(page, '[data-testid="stDataFrame"] canvas')
    first_row(page)
    page.get_by_text("Tag the 1 selected finding(s)").wait_for()
    name = f"triage-{os.getpid()}-{int(time.time())}"
    page.get_by_label("Tag", exact=True).fill(name)
    page.get_by_role("button", name="Tag them").click()
    deadline = time.monotonic() + 180
    while not (tagged := q(db, "SELECT run_id, sample_id, step_index FROM tags WHERE tag = ?", [name])):
        assert time.monotonic() < deadline, "the tag was not saved"
        page.wait_for_timeout(1000)
    assert len(tagged) == 1 and tagged[0][2] is not None
    from workbench import urls
    run, sample, step = tagged[0]
    page.goto(url + "/" + urls.trace_path(run, sample, step))
    settle(page, f"#step-{step} .wb-tag")
    assert name in page.locator(f"#step-{step} .wb-tag").inner_text()
    page.goto(url + f"/traces?tag={name}")
    settle(page, '[data-testid="stDataFrame"] canvas')
    assert matching(page) == 1
    shot(page, artifacts_dir, "tagged")


# ---- 1 and 8: the report on the app's store, nothing off the machine (checked by every test) ------------
def test_every_page_renders_without_errors(server, page, artifacts_dir):
    url, _ = server
    for path in ("", "traces", "failures", "clusters", "compare", "sql"):
        page.goto(url + "/" + path)
        settle(page, "h1")
        page.wait_for_timeout(1000)
        settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, path
        assert page.get_by_text("Something went wrong").count() == 0, path
        shot(page, artifacts_dir, f"page-{path or 'overview'}")
