"""The analysis pipeline over a real store: results, idempotence, resume, versions, exports."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from workbench.analysis import pipeline
from workbench.analysis.pipeline import analyze_store
from workbench.cli import main
from workbench.demo import build_demo
from workbench.errors import QueryRefused
from workbench.exporting import export
from workbench.store import connect


def q(db, sql, params=()):
    with connect(db) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.fixture
def demo_db(tmp_db):
    build_demo(tmp_db)
    return tmp_db


def test_demo_flags_match_what_the_demo_was_written_to_show(demo_db):
    flagged = {(d, s) for d, s in q(demo_db, "SELECT DISTINCT detector, sample_id FROM flags")}
    assert {s for d, s in flagged if d == "language_mixing"} == {"mix-words", "mix-drift"}
    assert {s for d, s in flagged if d == "repetition_loop"} == {"loop-runaway", "loop-escape", "loop-inline"}
    # the "decline" sample is not flagged: decline is opt-in (grounding.DECLINE_DEFAULT = False, issue 15)
    assert {s for d, s in flagged if d == "grounding_loss"} == {"cannot-see"}
    sev = dict(q(demo_db, "SELECT sample_id, severity FROM flags WHERE detector = 'repetition_loop'"))
    assert sev == {"loop-runaway": "runaway", "loop-escape": "loop", "loop-inline": "runaway"}
    assert q(demo_db, "SELECT severity FROM flags WHERE sample_id = 'mix-drift'") == [("drift",)]
    # every flag points into its step
    bad = q(demo_db, """SELECT count(*) FROM flags f JOIN steps s USING (run_id, sample_id, step_index)
                        WHERE f.char_start < s.char_start OR f.char_start >= s.char_end""")
    assert bad == [(0,)]
    assert q(demo_db, "SELECT count(*) FROM samples s WHERE NOT EXISTS (SELECT 1 FROM trace_stats t "
                      "WHERE t.run_id = s.run_id AND t.sample_id = s.sample_id)") == [(0,)]


def test_rerun_is_idempotent_and_changed_samples_are_reanalysed(demo_db, tmp_path):
    before = q(demo_db, "SELECT * FROM flags ORDER BY ALL")
    res = analyze_store(demo_db, progress=False)
    assert res.analysed == {} and res.skipped_up_to_date == 15
    assert q(demo_db, "SELECT * FROM flags ORDER BY ALL") == before
    with connect(demo_db) as con:  # a changed sample (as a re-import would do) gets analysed again
        con.execute("UPDATE samples SET response = 'Clean now. The answer is C.', content_hash = 'new' "
                    "WHERE sample_id = 'loop-runaway'")
    res = analyze_store(demo_db, progress=False)
    from workbench.analysis import registry
    assert res.analysed == {"steps": 1, **{name: 1 for name in registry.default_names()}}
    assert q(demo_db, "SELECT count(*) FROM flags WHERE sample_id = 'loop-runaway'") == [(0,)]


def test_analysis_rows_stay_unique_without_keys_through_reanalysis(demo_db):
    """steps, trace_stats and analysis_status have no primary key since 0014/0015: replacing a sample's
    rows is write_analysis' job."""
    keys = {"steps": "run_id, sample_id, step_index", "trace_stats": "run_id, sample_id",
            "analysis_status": "run_id, sample_id, detector",
            "flags": "run_id, sample_id, detector, tier, finding_index"}

    def counts() -> dict:
        return {t: q(demo_db, f"SELECT count(*), count(DISTINCT ({k})) FROM {t}")[0] for t, k in keys.items()}
    before = counts()
    assert all(n > 0 and n == distinct for n, distinct in before.values())
    with connect(demo_db) as con:   # one changed sample, then everything again
        con.execute("UPDATE samples SET content_hash = 'new' WHERE sample_id = 'loop-runaway'")
    analyze_store(demo_db, progress=False)
    analyze_store(demo_db, progress=False, force=True)
    after = counts()
    assert {t: after[t] for t in keys if t != "flags"} == {t: before[t] for t in keys if t != "flags"}
    assert after["flags"][0] == after["flags"][1]
    with connect(demo_db) as con:
        assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name IN "
                           "('steps', 'trace_stats', 'analysis_status') AND constraint_type = 'PRIMARY KEY'"
                           ).fetchone() == (0,)


def test_new_detector_version_replaces_only_its_rows(demo_db, monkeypatch):
    from workbench.analysis import registry
    lang_before = q(demo_db, "SELECT * FROM flags WHERE detector = 'language_mixing' ORDER BY ALL")
    with registry.overridden("repetition_loop", version="repetition-test"):
        res = analyze_store(demo_db, progress=False, workers=1)
    assert res.analysed == {"repetition_loop": 15}
    assert {v for (v,) in q(demo_db, "SELECT DISTINCT detector_version FROM flags "
                                     "WHERE detector = 'repetition_loop'")} == {"repetition-test"}
    assert q(demo_db, "SELECT * FROM flags WHERE detector = 'language_mixing' ORDER BY ALL") == lang_before


def test_interrupted_run_keeps_finished_chunks_and_resumes(tmp_db, monkeypatch, tmp_path):
    rows = [{"id": f"s{i}", "response": f"Trace {i}. " + ("Loop sentence number one here. " * 4 if i % 2 else "")}
            for i in range(30)]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from workbench.ingest import import_paths
    import_paths([path], tmp_db)
    monkeypatch.setattr(pipeline, "CHUNK", 10)
    calls = {"n": 0}
    real = pipeline._write_chunk

    def crash_after_two(db, out, versions):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(db, out, versions)

    monkeypatch.setattr(pipeline, "_write_chunk", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        analyze_store(tmp_db, progress=False, workers=1)
    assert q(tmp_db, "SELECT count(DISTINCT sample_id) FROM analysis_status") == [(20,)]
    monkeypatch.setattr(pipeline, "_write_chunk", real)
    res = analyze_store(tmp_db, progress=False, workers=1)
    assert res.analysed["steps"] == 10 and res.skipped_up_to_date == 20
    assert q(tmp_db, "SELECT count(DISTINCT sample_id) FROM flags WHERE detector = 'repetition_loop'") == [(15,)]


def test_bad_sample_does_not_stop_the_run(demo_db, monkeypatch):
    from workbench.analysis import registry

    def boom(response, **kw):
        if "明显" in response:
            raise RuntimeError("detector bug")
        return []

    with registry.overridden("language_mixing", detect=boom, version="language-boom"):
        res = analyze_store(demo_db, progress=False, workers=1)
    assert len(res.errors) == 1 and "mix-words" in res.errors[0] and "detector bug" in res.errors[0]
    assert res.analysed["language_mixing"] == 14


def test_export_formats_and_filter(demo_db, tmp_path):
    n = export("flags", demo_db, tmp_path / "f.parquet", "parquet", where="detector = 'repetition_loop'")
    table = pq.read_table(tmp_path / "f.parquet")
    assert n == table.num_rows == 3
    assert {"run_id", "sample_id", "detector", "step_index", "char_start", "char_end", "severity", "score",
            "evidence"} <= set(table.column_names)
    assert main(["export", "steps", "--db", str(demo_db), "--format", "jsonl", "--out", str(tmp_path / "s.jsonl"),
                 "--filter", "sample_id = 'clean-bar'"]) == 0
    steps = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    response = q(demo_db, "SELECT response FROM samples WHERE sample_id = 'clean-bar'")[0][0]
    assert [s["text"] for s in steps] == [response[s["char_start"]:s["char_end"]] for s in steps]
    assert main(["export", "samples", "--db", str(demo_db), "--format", "csv", "--out", str(tmp_path / "x.csv")]) == 0
    assert len((tmp_path / "x.csv").read_text().splitlines()) > 15  # header + 15 (multi-line fields quoted)


@pytest.mark.parametrize("where", ["1=1; DROP TABLE flags", "sample_id IN (SELECT * FROM read_csv('/etc/passwd'))"])
def test_export_filter_cannot_escape(demo_db, tmp_path, where):
    with pytest.raises(QueryRefused):
        export("flags", demo_db, tmp_path / "x.csv", "csv", where=where)
    assert q(demo_db, "SELECT count(*) > 0 FROM flags") == [(True,)]


def test_process_pool_with_small_chunks_and_batched_writes_equals_one_process(tmp_path, monkeypatch):
    """The pool path (read-ahead, results in any order, several chunks merged per write, stats columns
    typed per chunk) writes exactly the rows one process writes."""
    from workbench.ingest import import_paths
    rows = []
    for i in range(90):
        body = [f"Trace {i}. Let me look at the figure.", "Wait, the answer is 4."]
        if i % 3 == 0:
            body.append("This step repeats itself again and again here. " * 5)
        if i % 5 == 0:
            body.append("然后我们计算面积。 So the area is 12.")
        if i % 7 == 0:
            body.append("I cannot see the image, so I will assume it shows a triangle.")
        rows.append({"id": f"s{i}", "question": "What is the area?", "response": "\n\n".join(body),
                     "ground_truth": None if i % 2 else "4", "final_answer": "4" if i % 4 else None,
                     "images": ["pic.png"] if i % 2 else []})
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    one, pool = tmp_path / "one.duckdb", tmp_path / "pool.duckdb"
    for db in (one, pool):
        import_paths([path], db)
    analyze_store(one, progress=False, workers=1)
    monkeypatch.setattr(pipeline, "CHUNK", 25)      # writes of >= 25 samples ...
    monkeypatch.setattr(pipeline, "MIN_CHUNK", 4)   # ... from analysis chunks of 6 (90 / (2 workers * 8))
    assert pipeline.chunk_size(90, 2) == 6
    res = analyze_store(pool, progress=False, workers=2)
    assert res.analysed["steps"] == 90 and not res.errors
    for table in ("steps", "trace_stats", "flags"):
        sql = f"SELECT * FROM {table} ORDER BY ALL"
        assert q(one, sql) == q(pool, sql), table
    assert q(pool, "SELECT count(*) FROM flags WHERE detector = 'repetition_loop'") == [(30,)]
    assert q(pool, "SELECT count(DISTINCT sample_id) FROM analysis_status") == [(90,)]


def test_only_samples_analysed_before_have_old_rows_deleted(demo_db):
    # a first analysis skips the DELETEs (each scans a whole table: quadratic over a million traces);
    # `fresh` must therefore be exactly "no analysis_status row", or old rows would survive (or collide)
    from workbench.store.findings import pending_analysis
    with connect(demo_db) as con:
        con.execute("UPDATE samples SET response = 'Changed. The answer is B.', content_hash = 'new' "
                    "WHERE sample_id = 'loop-runaway'")
        con.execute("INSERT INTO samples (run_id, sample_id, response, content_hash) SELECT run_id, 'added', "
                    "'A new one. The answer is D.', 'h' FROM samples WHERE sample_id = 'loop-runaway'")
        from workbench.analysis import registry
        from workbench.analysis.pipeline import _versions
        todo = pending_analysis(con, None, _versions(registry.default_names()), False)
    assert {(k["sample_id"], k["fresh"]) for k in todo} == {("loop-runaway", False), ("added", True)}
    analyze_store(demo_db, progress=False, workers=1)
    assert q(demo_db, "SELECT count(*) FROM flags WHERE sample_id = 'loop-runaway'") == [(0,)]
    assert q(demo_db, "SELECT count(*) FROM steps WHERE sample_id = 'loop-runaway'") == [(1,)]
    assert q(demo_db, "SELECT count(*) FROM trace_stats WHERE sample_id IN ('added', 'loop-runaway')") == [(2,)]


def test_large_analyses_write_in_fewer_larger_transactions():
    # every write checkpoints when its connection closes, at a cost that grows with the store
    from workbench.analysis.pipeline import CHUNK, MAX_WRITE, write_size
    assert write_size(10) == write_size(CHUNK * 40) == CHUNK
    assert write_size(200_000) == 5_000
    assert write_size(1_000_000) == write_size(10_000_000) == MAX_WRITE
