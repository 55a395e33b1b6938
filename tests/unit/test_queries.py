"""Named read queries (workbench.store.queries) against a real DuckDB store: filters, pagination,
sorting, injection-safe search, flagged-sample navigation and tag writes."""

from __future__ import annotations

import json

import pytest

from workbench.store import connect
from workbench.store import queries as q
from workbench.store import tags as tags_store
from workbench.store.summary import ensure_fresh, runs_summary_sql


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from workbench.analysis.pipeline import analyze_store
    from workbench.ingest import import_paths

    tmp = tmp_path_factory.mktemp("queries")
    path = tmp / "store.duckdb"
    loop = "Let me check the bars again. " * 60
    rows = [
        {"id": "a-clean", "question": "Which month is highest?", "response": "March is highest.\n\nThe answer is C.",
         "answer": "C", "correct": True},
        {"id": "b-loop", "question": "Count the apples", "response": "First.\n\n" + loop + "\n\nThe answer is 4.",
         "answer": "5", "correct": False},
        {"id": "c-mix", "question": "What colour?",
         "response": "The car is red 这是红色的汽车，颜色很明显。\n\nThe answer is red.",
         "answer": "red", "correct": True},
        {"id": "d-plain", "question": "Sum?", "response": "Two plus two.\n\nThe answer is 4.", "answer": "4"},
    ]
    src = tmp / "run.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    import_paths([src], path, run="q run", progress=False)
    analyze_store(path, progress=False, workers=1)
    return path


def _runs(db) -> list[str]:
    with connect(db) as con:
        return [r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()]


def _page(db, f: q.SampleFilter, limit: int = 50, offset: int = 0):
    sql, params = q.sample_list(f, limit=limit, offset=offset)
    with connect(db) as con:
        return con.execute(sql, params).df()


def test_runs_overview_has_accuracy_and_flag_rates(db):
    with connect(db) as con:
        ensure_fresh(con)
        runs = con.execute(runs_summary_sql()).df()
    assert len(runs) == 1
    assert runs.loc[0, "samples"] == 4
    # d-plain has no source grade: the workbench grades it ("The answer is 4." vs ground truth 4)
    assert runs.loc[0, "accuracy"] == pytest.approx(3 / 4) and runs.loc[0, "graded_by"] == "source + workbench"
    assert runs.loc[0, "repetition_loop"] == pytest.approx(1 / 4) and runs.loc[0, "repetition_loop_samples"] == 1


def test_filters_correctness_length_detectors_and_total(db):
    runs = _runs(db)
    assert set(_page(db, q.SampleFilter(runs=runs, correct="wrong")).sample_id) == {"b-loop"}
    assert _page(db, q.SampleFilter(runs=runs, correct="ungraded")).empty   # d-plain is graded by the workbench
    assert set(_page(db, q.SampleFilter(runs=runs, detectors=["repetition_loop"])).sample_id) == {"b-loop"}
    # detectors combine with AND: nothing is both a loop and mixing here
    assert _page(db, q.SampleFilter(runs=runs, detectors=["repetition_loop", "language_mixing"])).empty
    long_only = _page(db, q.SampleFilter(runs=runs, min_chars=500))
    assert set(long_only.sample_id) == {"b-loop"}
    first = _page(db, q.SampleFilter(runs=runs, sort="length", descending=True), limit=2)
    assert next(iter(first.sample_id)) == "b-loop" and len(first) == 2
    with connect(db) as con:
        ensure_fresh(con)
        for flt, n in ((q.SampleFilter(runs=runs, sort="length"), 4), (q.SampleFilter(runs=runs, min_chars=500), 1),
                       (q.SampleFilter(runs=runs, subsets=["nothing"]), 0)):
            sql, params = q.sample_count(flt)
            assert con.execute(sql, params).fetchone()[0] == n
    second = _page(db, q.SampleFilter(runs=runs, sort="length", descending=True), limit=2, offset=2)
    assert not set(second.sample_id) & set(first.sample_id)


def test_search_is_parameterised_and_case_insensitive(db):
    runs = _runs(db)
    assert set(_page(db, q.SampleFilter(runs=runs, text="APPLES")).sample_id) == {"b-loop"}
    hostile = "x'); DROP TABLE samples; --"
    assert _page(db, q.SampleFilter(runs=runs, text=hostile)).empty
    # an unknown sort key falls back to the sample id instead of being spliced into SQL
    assert next(iter(_page(db, q.SampleFilter(runs=runs, sort="1; DROP TABLE runs")).sample_id)) == "a-clean"
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM samples").fetchone()[0] == 4


def test_neighbour_flagged_and_tags(db):
    run = _runs(db)[0]
    with connect(db) as con:
        flagged = sorted(r[0] for r in con.execute("SELECT DISTINCT sample_id FROM flags WHERE run_id = ?",
                                                   [run]).fetchall())
        assert "b-loop" in flagged
        # the flagged list: a-clean is not in it; b-loop is, with its neighbours in list order
        sql, params = q.list_neighbours(q.SampleFilter(runs=[run], flagged=True), run, "a-clean")
        assert con.execute(sql, params).fetchone() is None
        sql, params = q.list_neighbours(q.SampleFilter(runs=[run], flagged=True), run, flagged[0])
        pos, total, _, prev, _, nxt = con.execute(sql, params).fetchone()
        assert (pos, total, prev) == (1, len(flagged), None) and nxt == (flagged[1] if len(flagged) > 1 else None)
        # walking a list sorted by a loop measurement, descending
        sql, params = q.list_neighbours(q.SampleFilter(runs=[run], sort="chars_wasted", descending=True), run,
                                        "b-loop")
        assert con.execute(sql, params).fetchone()[0] == 1
        tags_store.add_tag(con, run, "b-loop", 2, "loop", "repeats the check")
        tags = con.execute(tags_store.TAGS, [run, "b-loop"]).df()
        assert list(tags.tag) == ["loop"] and int(tags.step_index.iloc[0]) == 2
        tags_store.delete_tag(con, int(tags.tag_id.iloc[0]), run, "b-loop")
        assert con.execute(tags_store.TAGS, [run, "b-loop"]).df().empty


def test_failures_page_filters_sorts_and_pages_in_sql(db):
    from workbench.store.findings import failure_counts_sql, failure_totals_sql, failures_sql
    runs = _runs(db)
    scope = q.scope_params(runs, [], [])
    with connect(db) as con:
        every = [*scope, [], [], [], [], [], []]
        findings, samples = con.execute(failure_totals_sql(q.SCOPE_SQL), every).fetchone()
        assert findings == con.execute("SELECT count(*) FROM flags").fetchone()[0] and samples >= 2
        page = con.execute(failures_sql(q.SCOPE_SQL, sort="score", descending=True), [*every, 1, 0]).df()
        assert len(page) == 1
        assert page["score"].iloc[0] == con.execute("SELECT max(score) FROM flags").fetchone()[0]
        rest = con.execute(failures_sql(q.SCOPE_SQL), [*every, 100, 1]).df()
        assert len(rest) == findings - 1
        loops = scope + [["repetition_loop"]] * 2 + [[], [], [], []]
        assert set(con.execute(failures_sql(q.SCOPE_SQL), [*loops, 100, 0]).df()["sample_id"]) == {"b-loop"}
        tags_store.add_tag(con, runs[0], "c-mix", None, "colour", None)
        tagged = [*scope, [], [], [], [], ["colour"], ["colour"]]
        page = con.execute(failures_sql(q.SCOPE_SQL), [*tagged, 100, 0]).df()
        assert set(page["sample_id"]) == {"c-mix"} and set(page["tags"]) == {"colour"}
        counts = con.execute(failure_counts_sql(q.SCOPE_SQL), tagged).df()
        assert counts["findings"].sum() == len(page)
        con.execute("DELETE FROM tags WHERE tag = 'colour'")


@pytest.mark.parametrize("descending", [False, True])
def test_neighbours_agree_with_the_list_for_every_sort(db, descending):
    """Position, previous and next (counted, not sorted) match the paged list's order for every sort key."""
    runs = _runs(db)
    with connect(db) as con:
        for sort in q.sorts():
            f = q.SampleFilter(runs=runs, sort=sort, descending=descending)
            order = list(zip(_page(db, f).run_id, _page(db, f).sample_id))
            for i, (run, sid) in enumerate(order):
                sql, params = q.list_neighbours(f, run, sid)
                pos, total, pr, ps, nr, ns = con.execute(sql, params).fetchone()
                assert (pos, total) == (i + 1, len(order)), sort
                assert (pr, ps) == (order[i - 1] if i else (None, None)), sort
                assert (nr, ns) == (order[i + 1] if i + 1 < len(order) else (None, None)), sort
