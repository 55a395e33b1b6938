"""The detector registry is the one place a detector is declared: a toy detector registered here
shows up in analysis, exports, the runs summary, pages, reports, charts and the trace view."""

from __future__ import annotations

import json
import re

import pytest
from apptest_util import all_text, page, use_store

from workbench.analysis import registry
from workbench.analysis.base import step_at
from workbench.records import Finding

TOY = "toy_detector"
COLOUR = "#123456"


def toy_detect(response: str, *, question=None, steps=(), has_image=False, final_answer=None) -> list[Finding]:
    """Flags every 'TOYWORD' (and says whether the source reported an answer: a `needs` field)."""
    return [Finding(TOY, "toy_high" if final_answer else "toy_low", 0.5, m.start(), m.end(), step_at(steps, m.start()),
                    evidence=m.group(0), details={"toy_len": len(m.group(0))})
            for m in re.finditer(r"TOYWORD", response)]


SPEC = registry.DetectorSpec(
    name=TOY, version="toy-1", label="toy detector", colour=COLOUR,
    severities=(registry.Severity("toy_high", "toy high", "#654321"),
                registry.Severity("toy_low", "toy low", "#abcdef")),
    measures=(registry.Measure("toy_len", "toy length"),), needs=("final_answer",), detect=toy_detect)


@pytest.fixture(scope="module")
def toy_store(tmp_path_factory):
    from workbench.analysis.pipeline import analyze_store
    from workbench.ingest import import_paths
    registry.register(SPEC)
    tmp = tmp_path_factory.mktemp("toy")
    db = tmp / "store.duckdb"
    src = tmp / "toy.jsonl"
    rows = [{"id": "t1", "question": "Q?", "response": "First step.\n\nThen TOYWORD here.\n\nThe answer is A.",
             "answer": "A", "final_answer": "A"},
            {"id": "t2", "question": "Q?", "response": "Nothing to see.\n\nThe answer is B.", "answer": "A"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_paths([src], db, run="toy run", progress=False)
    res = analyze_store(db, progress=False, workers=1)
    assert res.analysed[TOY] == 2 and not res.errors
    yield db
    registry.unregister(TOY)


def test_toy_detector_runs_in_the_pipeline_with_its_needs(toy_store):
    from workbench.store import connect
    with connect(toy_store) as con:
        rows = con.execute("SELECT sample_id, severity, step_index, detector_version FROM flags WHERE detector = ?",
                           [TOY]).fetchall()
    assert rows == [("t1", "toy_high", 1, "toy-1")]


def test_toy_detector_in_exports_and_runs_summary(toy_store, tmp_path):
    from workbench.exporting import export_table
    from workbench.store import connect
    from workbench.store.summary import ensure_fresh, runs_summary_sql
    samples = {r["sample_id"]: r for r in export_table("samples", toy_store).to_pylist()}
    assert samples["t1"][TOY] == 1 and samples["t2"][TOY] == 0
    flags = [r for r in export_table("flags", toy_store).to_pylist() if r["detector"] == TOY]
    assert flags[0]["toy_len"] == 7
    with connect(toy_store) as con:
        ensure_fresh(con)
        runs = con.execute(runs_summary_sql()).df()
    assert runs.loc[0, TOY] == pytest.approx(0.5) and runs.loc[0, f"{TOY}_samples"] == 1


def test_toy_detector_in_report_charts_and_trace_view(toy_store):
    from workbench.report.data import load_report
    from workbench.report.render import render_html, render_markdown
    from workbench.viz import charts
    from workbench.viz.trace_html import render_trace
    data = load_report(toy_store, "toy run")
    html = render_html(data)
    assert "toy detector" in html and f'fill="{COLOUR}"' in html and "toy_detector:toy_high" in html
    md, _ = render_markdown(data, "files")
    assert "| toy detector | 50.0% | 1 of 2 |" in md
    import pandas as pd
    fig = charts.flag_rate_by_subset(pd.DataFrame({"subset": ["x", "x"], "detector": [TOY, "repetition_loop"],
                                                   "flag_rate": [0.5, 0.1], "samples": [2, 2]}))
    assert {t.name: t.marker.color for t in fig.data}["toy detector"] == COLOUR
    out = render_trace("Then TOYWORD here.",
                       [{"step_index": 0, "char_start": 0, "char_end": 18, "role": "computation"}],
                       [{"detector": TOY, "severity": "toy_high", "char_start": 5, "char_end": 12, "details": "{}"}])
    assert '<mark class="wb-toy-detector"' in out and f"mark.wb-toy-detector{{background:{COLOUR}33" in out


def test_toy_detector_on_the_pages(toy_store):
    with use_store(toy_store):
        at = page("failures")
        assert TOY in at.multiselect(key="det").options
        assert "toy_high" in at.multiselect(key="sev").options
        df = at.dataframe[0].value
        assert list(df.loc[df["detector"] == TOY, "toy_len"]) == [7]
        at = page("traces")
        at.multiselect(key="det").set_value([TOY]).run()
        assert list(at.dataframe[0].value["sample_id"]) == ["t1"]
        at = page("overview")
        assert TOY in at.dataframe[0].value.columns
        at = page("trace", run="toy-run", sample="t1")
        assert "toy detector · toy_high · step 1" in all_text(at)
