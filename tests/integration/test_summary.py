"""Summary tables (store/summary.py) stay equal to the direct aggregates through every write that
changes samples or findings: import, analyze, import --update, runs rename / merge / delete, and the
probe's findings. Each check fails if a writer left a run's summary stale without marking it, or
if a command that should refresh it did not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.store import connect, summary
from workbench.store.findings import AnalysisRows, write_analysis
from workbench.store.grades import grade_sql
from workbench.store.queries import SCOPE_SQL, scope_params

LOOP = "Let me check the bars again. " * 60

# The direct aggregates the Overview computed before the summaries existed (the oracle).
DIRECT_FLAG_RATE = f"""
SELECT CASE WHEN s.benchmark IS NOT NULL AND s.subset IS NOT NULL AND s.subset <> s.benchmark
            THEN s.benchmark || ' · ' || s.subset ELSE coalesce(s.subset, s.benchmark, '(none)') END AS subset,
       d.detector,
       avg(CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.run_id = s.run_id AND f.sample_id = s.sample_id
                             AND f.detector = d.detector) THEN 1.0 ELSE 0.0 END) AS flag_rate,
       count(*) AS samples
FROM samples s, (SELECT unnest(?::VARCHAR[]) AS detector) d
WHERE {SCOPE_SQL} AND (d.detector NOT IN (SELECT unnest(?::VARCHAR[])) OR s.n_images > 0)
GROUP BY ALL ORDER BY subset, d.detector"""
DIRECT_ACCURACY = f"""
SELECT d.detector,
       CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.run_id = s.run_id AND f.sample_id = s.sample_id
                         AND f.detector = d.detector) THEN 'flagged' ELSE 'not flagged' END AS status,
       avg(CASE WHEN {grade_sql()} THEN 1.0 ELSE 0.0 END) AS accuracy, count(*) AS samples
FROM samples s LEFT JOIN trace_stats t USING (run_id, sample_id), (SELECT unnest(?::VARCHAR[]) AS detector) d
WHERE {SCOPE_SQL} AND {grade_sql()} IS NOT NULL
  AND (d.detector NOT IN (SELECT unnest(?::VARCHAR[])) OR s.n_images > 0)
GROUP BY ALL ORDER BY d.detector, status"""
DIRECT_LENGTHS = f"SELECT s.run_id, length(s.response) AS chars FROM samples s WHERE {SCOPE_SQL}"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _rows(prefix: str, n: int, *, loop_every: int = 3) -> list[dict]:
    out = []
    for i in range(n):
        mixed = "The car is red 这是红色的汽车，颜色很明显。"
        body = ("First.\n\n" + LOOP if i % loop_every == 0 else mixed) if i % 2 == 0 \
            else f"Two plus {i}.\n\nPlain reasoning about the figure."
        out.append({"id": f"{prefix}{i}", "question": f"Q{i}?", "response": body + f"\n\nThe answer is {i % 3}.",
                    "answer": str(i % 2), "benchmark": "bench" if i % 4 else "other", "subset": f"s{i % 3}",
                    **({"correct": bool(i % 5)} if i % 7 else {}), **({"image": "nope.png"} if i % 3 == 0 else {})})
    return out


def _cli(*argv: str) -> None:
    assert main(list(argv)) == 0


def _snapshot(con) -> dict[str, list[tuple]]:
    return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in summary.TABLES}


def check(db: Path) -> None:
    """The stored summaries are fresh (nothing to recompute), equal a recomputation from scratch, and
    the Overview's aggregates read from them equal the direct aggregates over samples and flags."""
    from workbench.analysis import registry
    with connect(db) as con:
        runs = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
        fresh = dict(con.execute("SELECT run_id, fresh FROM summary_state").fetchall())
        assert fresh == {r: True for r in runs}, "a write left a run's summary stale (or one of a gone run)"
        assert summary.stale_runs(con) == []
        stored = _snapshot(con)
        assert {r[0] for rows in stored.values() for r in rows} <= set(runs)
        con.begin()
        summary.refresh(con, runs)
        assert _snapshot(con) == stored, "the stored summaries differ from a recomputation"
        con.rollback()
        if not runs:
            return
        scope = scope_params(runs, [], [])
        detectors, image = registry.names(), registry.image_detectors()
        direct = con.execute(DIRECT_FLAG_RATE, [detectors, *scope, image]).df()
        mine = con.execute(summary.FLAG_RATE_BY_SUBSET, summary.detector_params(scope)).df()
        assert mine[["subset", "detector", "samples"]].values.tolist() == \
            direct[["subset", "detector", "samples"]].values.tolist()
        assert mine["flag_rate"].tolist() == pytest.approx(direct["flag_rate"].tolist())
        direct = con.execute(DIRECT_ACCURACY, [detectors, *scope, image]).df()
        mine = con.execute(summary.ACCURACY_BY_FLAG, summary.detector_params(scope)).df()
        assert mine[["detector", "status", "samples"]].values.tolist() == \
            direct[["detector", "status", "samples"]].values.tolist()
        assert mine["accuracy"].tolist() == pytest.approx(direct["accuracy"].tolist())
        lengths = con.execute(DIRECT_LENGTHS, scope).df()
        bins = con.execute(summary.LENGTH_BINS, scope).df()
        assert int(bins["traces"].sum()) == len(lengths)
        for run_id, n in lengths.groupby("run_id").size().items():
            assert int(bins.loc[bins.run_id == run_id, "traces"].sum()) == n
        width = float(bins["width"].iloc[0])
        for _, b in bins.iterrows():   # each bin holds exactly the traces whose length falls in it
            inside = lengths[(lengths.run_id == b.run_id) & (lengths.chars >= b.bin_start)
                             & (lengths.chars < b.bin_start + width)]
            assert len(inside) == b.traces


def test_summaries_follow_every_write(tmp_path):
    db = tmp_path / "s.duckdb"
    a = _write(tmp_path / "a.jsonl", _rows("a", 24))
    b = _write(tmp_path / "b.jsonl", _rows("b", 10, loop_every=2))
    _cli("import", str(a), "--db", str(db), "--run", "A")
    _cli("import", str(b), "--db", str(db), "--run", "B")
    check(db)
    _cli("analyze", "--db", str(db))
    check(db)
    with connect(db) as con:
        loops = con.execute("SELECT sum(loops) FROM summary_onsets").fetchone()[0]
        assert loops and loops > 0 and con.execute("SELECT count(*) FROM summary_findings").fetchone()[0] > 0
    # import --update: responses change (loops appear and go), a sample is added
    changed = _rows("a", 25, loop_every=2)
    _cli("import", str(_write(tmp_path / "a2.jsonl", changed)), "--db", str(db), "--run", "A", "--update")
    check(db)
    _cli("analyze", "--db", str(db))
    check(db)
    _cli("runs", "rename", "B", "Bee", "--db", str(db))
    check(db)
    _cli("runs", "merge", "A", "Bee", "--into", "C", "--prefix", "--db", str(db))
    check(db)
    with connect(db) as con:
        assert con.execute("SELECT sum(samples) FROM summary_groups WHERE run_id = 'c'").fetchone()[0] == 35
    _cli("runs", "delete", "C", "--yes", "--db", str(db))
    check(db)
    with connect(db) as con:
        assert all(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0
                   for t in (*summary.TABLES, "summary_state"))


def test_writers_mark_stale_and_readers_recompute(tmp_path):
    """Writes that do not refresh (an analysis chunk, the probe's findings) mark the run stale in their
    transaction; ensure_fresh then recomputes it. A change no writer marked (rows deleted behind the
    store's back) is caught by the counts."""
    from workbench.records import Finding
    from workbench.store.findings import replace_model_findings
    db = tmp_path / "s.duckdb"
    _cli("import", str(_write(tmp_path / "a.jsonl", _rows("a", 12))), "--db", str(db), "--run", "A")
    _cli("analyze", "--db", str(db))
    check(db)
    with connect(db) as con:
        con.begin()
        replace_model_findings(con, "a", "a1", "grounding_loss", "probe-1", ["model"],
                               [Finding(detector="grounding_loss", severity="high", score=1.0, tier="model",
                                        char_start=3, char_end=9, evidence="x")])
        con.commit()
        assert summary.stale_runs(con) == ["a"]
        assert summary.ensure_fresh(con) == ["a"]
    check(db)
    with connect(db) as con:
        write_analysis(con, AnalysisRows(flags=[], done=[("a", "a2", "repetition_loop")]),
                       {"repetition_loop": "v-test"})
        assert con.execute("SELECT fresh FROM summary_state WHERE run_id = 'a'").fetchone()[0] is False
        summary.ensure_fresh(con)
        con.execute("DELETE FROM flags WHERE run_id = 'a' AND sample_id = 'a0'")   # nobody marks this
        assert summary.stale_runs(con) == ["a"]
        summary.ensure_fresh(con)
    check(db)


def test_registry_change_makes_summaries_stale(tmp_path, monkeypatch):
    db = tmp_path / "s.duckdb"
    _cli("import", str(_write(tmp_path / "a.jsonl", _rows("a", 6))), "--db", str(db), "--run", "A")
    monkeypatch.setattr(summary, "signature", lambda: "another registry")
    with connect(db) as con:
        assert summary.stale_runs(con) == ["a"]
