"""Every page on odd stores (issue 14 item 4): an empty store, one unanalysed sample, a run with no
grades and no images (clustered), a ~200k-character trace and ids that need encoding and escaping
(clustered by sample). A page may say that there is nothing to show; it never raises."""

from __future__ import annotations

import re

import pytest
from apptest_util import all_text, page, use_store
from odd_stores import KINDS, ODD_IDS, build_odd_stores

PAGES = ("overview", "traces", "trace", "failures", "compare", "clusters", "sql", "run")


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict:
    from workbench.cluster import run_clustering
    built = build_odd_stores(tmp_path_factory.mktemp("odd-pages"))
    run_clustering(built["no-grades-no-images"], unit="step", method="kmeans", k=2)
    run_clustering(built["long-and-odd-ids"], unit="sample", method="kmeans", k=2)
    return built


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", PAGES)
def test_every_page_on_odd_stores(stores, kind, name):
    with use_store(stores[kind]):
        at = page(name, timeout=120)   # asserts that the page raised nothing
    text = all_text(at)
    assert "Traceback" not in text and "Error:" not in text.replace("SQL Error:", ""), text[:2000]


@pytest.mark.parametrize("sample", ODD_IDS)
def test_trace_view_opens_every_odd_id(stores, sample):
    with use_store(stores["long-and-odd-ids"]):
        at = page("trace", timeout=120, run="odd", sample=sample, step="3")
    text = all_text(at)
    assert sample in text, f"{sample!r} is not shown as text"
    assert "No sample" not in text


def test_long_trace_folds_its_loop_and_keeps_every_character_reachable(stores):
    with use_store(stores["long-and-odd-ids"]):
        at = page("trace", timeout=120, run="odd", sample=ODD_IDS[0])
    html = "\n".join(h.proto.body for h in at.get("html"))
    assert "repeated" in html and "Let me compute the area again." in html   # the loop, folded to its first copy
    copies = [int(n.replace(",", "")) for n in re.findall(r"repeated ([\d,]+) times", html)]
    assert copies and max(copies) >= 100, copies    # thousands of copies of one sentence read as one loop
    assert "<details" in html and "<details open" not in html   # the copies stay folded until asked for


def test_failures_and_compare_on_a_run_without_grades(stores):
    with use_store(stores["no-grades-no-images"]):
        failures = page("failures", timeout=120)
        compare = page("compare", timeout=120, run="odd", sample="s1", run2="odd", sample2="s3")
    assert failures.dataframe, "the flagged loops of the ungraded run are listed"
    text = all_text(compare)
    assert text.count("ungraded") == 2 and "aligned steps" in text   # both sides, graded or not
