"""Every page with real store content (streamlit.testing AppTest)."""

from __future__ import annotations

import pytest
from apptest_util import all_text, page

from workbench.store import connect


def test_overview_shows_runs_and_charts(app_db):
    at = page("overview")
    df = at.dataframe[0].value
    assert set(df["name"]) == {"demo (synthetic)", "second run"}
    assert "Synthetic runs are demo data" in all_text(at)
    assert len(at.get("plotly_chart")) == 4


def test_traces_filters(app_db):
    at = page("traces")
    assert "17 matching samples" in all_text(at)
    at.multiselect(key="traces_detectors").set_value(["repetition_loop"]).run()
    df = at.dataframe[0].value
    assert set(df["sample_id"]) == {"loop-runaway", "loop-escape", "loop-inline"}
    at.multiselect(key="traces_detectors").set_value([]).run()
    at.text_input(key="traces_text").set_value("can't see the image").run()
    assert list(at.dataframe[0].value["sample_id"]) == ["cannot-see"]
    at.text_input(key="traces_text").set_value("").run()
    at.selectbox(key="traces_correct").set_value("wrong").run()
    assert set(at.dataframe[0].value["sample_id"]) == {"loop-runaway", "loop-inline", "cannot-see", "wrong-answer"}


def test_trace_view_deep_link_steps_and_findings(app_db):
    at = page("trace", run="demo-synthetic", sample="loop-runaway", step="2")
    text = all_text(at)
    assert "Trace loop-runaway" in text and "repetition_loop" in text and "runaway" in text
    html = "".join(h.proto.body for h in at.get("html"))
    assert "repeated 40 times" in html and 'id="step-2"' in html and "wb-selected" in html
    assert at.selectbox(key="trace_step").value == 2


def test_trace_view_escapes_and_missing_image(app_db):
    at = page("trace", run="second-run", sample="xss")
    html = "".join(h.proto.body for h in at.get("html"))
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    at = page("trace", run="demo-synthetic", sample="missing-image")
    assert "Image not available" in all_text(at)


def test_tags_and_notes_are_saved(app_db):
    at = page("trace", run="demo-synthetic", sample="clean-bar")
    at.selectbox(key="trace_tag_target").set_value("step 1")
    at.text_input(key="trace_tag_text").set_value("good-example")
    at.text_input(key="trace_tag_note").set_value("clear perception step")
    at.button[[b.label for b in at.button].index("Save")].click().run()
    with connect(app_db) as con:
        assert con.execute("SELECT step_index, tag, note FROM tags WHERE sample_id = 'clean-bar'").fetchall() == \
            [(1, "good-example", "clear perception step")]
    assert "good-example" in all_text(at)


def test_unknown_sample_is_a_message(app_db):
    at = page("trace", run="demo-synthetic", sample="nope")
    assert "No sample 'nope'" in all_text(at)


def test_failures_page_filters_and_downloads(app_db):
    at = page("failures")
    df = at.dataframe[0].value
    assert {"language_mixing", "repetition_loop", "grounding_loss"} <= set(df["detector"])
    at.multiselect(key="failures_detectors").set_value(["grounding_loss"]).run()
    df = at.dataframe[0].value
    assert set(df["detector"]) == {"grounding_loss"}
    assert all(u.startswith("trace?run=") for u in df["open"])
    assert len(at.get("download_button")) == 2


def test_compare_aligns_same_sample_in_two_runs(app_db):
    at = page("compare", run="demo-synthetic", sample="clean-bar")
    assert at.selectbox(key="compare_Right_run").value == "second-run"
    assert "aligned steps" in all_text(at)
    html = "".join(h.proto.body for h in at.get("html"))
    assert "wb-cmp" in html and ("wb-del" in html or "wb-ins" in html)


@pytest.mark.parametrize("sql, expect", [
    ("SELECT count(*) AS n FROM samples", None),
    ("DROP TABLE samples", "read-only"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv() is not allowed"),
])
def test_sql_page(app_db, sql, expect):
    at = page("sql")
    at.text_area(key="sql_text").set_value(sql)
    at.button(key="sql_run").click().run()
    if expect is None:
        assert at.dataframe[0].value["n"][0] == 17
    else:
        assert expect in at.error[0].value.replace("\\", "")  # the message is markdown-escaped


def test_sql_examples_all_run(app_db):
    from workbench.store.console import run_query
    from workbench.ui.sql_console import EXAMPLES
    for name, sql in EXAMPLES.items():
        run_query(sql, app_db)  # raises QueryRefused on a broken example
