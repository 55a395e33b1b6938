"""Every page with real store content (streamlit.testing AppTest)."""

from __future__ import annotations

import json

import pytest
from apptest_util import all_text, page

from workbench.analysis import registry
from workbench.store import connect


def _figure(at, title: str) -> dict:
    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        if fig["layout"]["title"]["text"].startswith(title):
            return fig
    raise AssertionError(f"no chart titled {title!r}")


def test_overview_shows_runs_and_charts(app_db):
    at = page("overview")
    df = at.dataframe[0].value
    assert set(df["name"]) == {"demo (synthetic)", "second run"}
    demo = df[df["name"] == "demo (synthetic)"].iloc[0]
    with connect(app_db) as con:
        flagged, n = con.execute("SELECT count(DISTINCT sample_id) FILTER (WHERE detector = 'repetition_loop'), "
                                 "(SELECT count(*) FROM samples WHERE run_id = 'demo-synthetic') FROM flags "
                                 "WHERE run_id = 'demo-synthetic'").fetchone()
    assert demo["repetition_loop"] == pytest.approx(flagged / n) and flagged > 0
    assert "Synthetic runs are demo data" in all_text(at)
    # the flag-rate chart: one bar series per registered detector, in its registry colour, with the store's rates
    rates = _figure(at, "Flag rate per benchmark subset")
    colours = {t["name"]: t["marker"]["color"] for t in rates["data"]}
    assert colours == {registry.labels()[n]: c for n, c in registry.colours().items()}
    loops = next(t for t in rates["data"] if t["name"] == registry.labels()["repetition_loop"])
    with connect(app_db) as con:
        per_subset = dict(con.execute(
            "SELECT CASE WHEN benchmark IS NOT NULL AND subset IS NOT NULL AND subset <> benchmark "
            "THEN benchmark || ' · ' || subset ELSE coalesce(subset, benchmark, '(none)') END, "
            "avg(CASE WHEN sample_id IN (SELECT sample_id FROM flags f "
            "WHERE f.run_id = s.run_id AND detector = 'repetition_loop') THEN 1.0 ELSE 0 END) FROM samples s "
            "GROUP BY 1").fetchall())
    assert dict(zip(loops["hovertext"], loops["x"])) == pytest.approx(per_subset)   # every subset has its bar
    assert loops["error_x"]["array"] and all(n > 0 for n in loops["customdata"])     # intervals and n
    acc = _figure(at, "Accuracy with vs without each flag")
    flagged_acc = next(t for t in acc["data"] if t["name"] == "flagged")
    assert set(flagged_acc["hovertext"]) <= set(registry.labels().values())
    assert all(0 <= y <= 1 for y in flagged_acc["y"])
    assert all(t.startswith("n=") for t in flagged_acc["text"])
    assert _figure(at, "Where loops start (share of the trace)")["data"]


def test_traces_filters(app_db):
    at = page("traces")
    assert "17 matching samples" in all_text(at)
    at.multiselect(key="det").set_value(["repetition_loop"]).run()
    df = at.dataframe[0].value
    assert set(df["sample_id"]) == {"loop-runaway", "loop-escape", "loop-inline"}
    at.multiselect(key="det").set_value([]).run()
    at.text_input(key="q").set_value("can't see the image").run()
    assert list(at.dataframe[0].value["sample_id"]) == ["cannot-see"]
    at.text_input(key="q").set_value("").run()
    at.selectbox(key="answer").set_value("wrong").run()
    assert set(at.dataframe[0].value["sample_id"]) == {"loop-runaway", "loop-inline", "cannot-see", "wrong-answer"}


def test_trace_view_deep_link_steps_and_findings(app_db):
    at = page("trace", run="demo-synthetic", sample="loop-runaway", step="2")
    text = all_text(at)
    assert "Trace loop-runaway" in text and "repetition loop · runaway" in text
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
    at.multiselect(key="det").set_value(["grounding_loss"]).run()
    df = at.dataframe[0].value
    assert set(df["detector"]) == {"grounding_loss"}
    assert all(u.startswith("trace?run=") for u in df["open"])
    assert len(at.get("download_button")) == 2


def test_compare_aligns_same_sample_in_two_runs(app_db):
    at = page("compare", run="demo-synthetic", sample="clean-bar")
    assert at.selectbox(key="compare_Right_run").value == "second-run"
    text = all_text(at)
    assert "(1 identical)" in text and "1 only right" in text
    html = "".join(h.proto.body for h in at.get("html"))
    # the right trace's first step exists only on the right: a gap row with it in the right column
    assert "<td class='n'></td><td class='t'></td><td class='n'>0</td><td class='t'>March is the highest.</td>" in html


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
    with_rows = 0
    for name, sql in EXAMPLES.items():
        res = run_query(sql, app_db)  # raises QueryRefused on a broken example
        assert res.columns and not res.truncated, name
        with_rows += bool(res.rows)
    assert with_rows >= len(EXAMPLES) - 1  # the demo has no wrong answer with language mixing
