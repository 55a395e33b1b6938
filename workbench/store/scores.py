"""Scores per benchmark: accuracy per run, benchmark and subset, and QVQ's own benchmarks beside its model card.

Every accuracy is the one grade (store/grades.py): the source's own per-sample grade where the result
file has one, else the workbench's (the reported answer, else the trace's conclusion, graded by the
benchmark's rules). Each row says how many grades came from where. Ungraded samples (no ground truth,
no source grade) are left out of the accuracy and counted apart.

Truncation's share of a gap: `acc_complete` is the accuracy of the traces that did not run out;
`truncation_cost` = acc_complete - accuracy is how many points the run would gain if its truncated
traces scored like its complete ones (the dev set's MMMU run stops at 4,096 tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb

from workbench.store.grades import grade_source_sql, grade_sql


@dataclass(frozen=True)
class CardEntry:
    """One figure of QVQ-72B-Preview's model card and how to recognise its benchmark in a run."""
    benchmark: str
    figure: float           # accuracy in percent, as the model card reports it
    pattern: str            # regex on the benchmark name folded to [a-z0-9]


# QVQ-72B-Preview model card (Hugging Face, Qwen/QVQ-72B-Preview): MMMU (val), MathVista (mini),
# MathVision (full), OlympiadBench.
MODEL_CARD = (
    CardEntry("MMMU", 70.3, r"^mmmu(?!pro)"),
    CardEntry("MathVista", 71.4, r"^mathvista"),
    CardEntry("MathVision", 35.9, r"^(?:mathvision|mathv(?:test|full|mini)?$)"),
    CardEntry("OlympiadBench", 20.4, r"^olympiad"),
)

_G = grade_sql("s", "t")
_SRC = grade_source_sql("s", "t")

SCORES = f"""
SELECT s.run_id, r.name AS run_name, r.model,
       coalesce(s.benchmark, '(none)') AS benchmark, coalesce(s.subset, '(none)') AS subset,
       grouping(coalesce(s.subset, '(none)')) = 1 AS is_total,
       count(*) AS samples,
       count({_G}) AS graded,
       count(*) FILTER ({_G}) AS correct,
       avg(CASE WHEN {_G} THEN 1.0 WHEN NOT {_G} THEN 0.0 END) AS accuracy,
       count(*) FILTER ({_SRC} = 'source') AS by_source,
       count(*) FILTER ({_SRC} = 'workbench') AS by_workbench,
       count(*) FILTER (t.truncated) AS truncated,
       avg(CASE WHEN {_G} THEN 1.0 WHEN NOT {_G} THEN 0.0 END) FILTER (NOT t.truncated) AS acc_complete,
       avg(CASE WHEN {_G} THEN 1.0 WHEN NOT {_G} THEN 0.0 END) FILTER (t.truncated) AS acc_truncated,
       count(*) FILTER (s.correct IS NOT NULL AND t.extracted_correct IS NOT NULL) AS both_graded,
       avg(CASE WHEN s.correct = t.extracted_correct THEN 1.0 ELSE 0.0 END)
           FILTER (s.correct IS NOT NULL AND t.extracted_correct IS NOT NULL) AS agreement,
       count(*) FILTER (t.run_id IS NULL) AS not_analysed
FROM samples s JOIN runs r USING (run_id) LEFT JOIN trace_stats t USING (run_id, sample_id)
WHERE ? OR s.run_id IN (SELECT unnest(?::VARCHAR[]))
GROUP BY GROUPING SETS ((s.run_id, r.name, r.model, coalesce(s.benchmark, '(none)')),
                        (s.run_id, r.name, r.model, coalesce(s.benchmark, '(none)'), coalesce(s.subset, '(none)')))
ORDER BY s.run_id, benchmark, is_total DESC, subset
"""


def grade_origin(by_source: int, by_workbench: int) -> str:
    """Where a set of grades came from, in words: `source`, `workbench`, `mixed (a source / b workbench)`."""
    if by_source and by_workbench:
        return f"mixed ({by_source} source / {by_workbench} workbench)"
    return "source" if by_source else "workbench" if by_workbench else "ungraded"


def scores(con: duckdb.DuckDBPyConnection, runs: list[str] | None = None) -> list[dict[str, Any]]:
    """Accuracy rows per (run, benchmark) (`is_total`) and per (run, benchmark, subset)."""
    cur = con.execute(SCORES, [runs is None, runs or []])
    cols = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        d = dict(zip(cols, row))
        d["grades_from"] = grade_origin(d["by_source"], d["by_workbench"])
        d["truncation_cost"] = (d["acc_complete"] - d["accuracy"]
                                if d["acc_complete"] is not None and d["accuracy"] is not None else None)
        out.append(d)
    return out


def card_entry(benchmark: str | None) -> CardEntry | None:
    """The model-card benchmark a run's benchmark name is (MMMU-Pro is not MMMU)."""
    folded = re.sub(r"[^a-z0-9]", "", (benchmark or "").lower())
    return next((c for c in MODEL_CARD if re.search(c.pattern, folded)), None)


def model_card(score_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model-card benchmark, run on it): the run's accuracy beside the card's figure and how
    much of the gap truncation explains; a benchmark without a run gets one empty row."""
    out = []
    for entry in MODEL_CARD:
        rows = [r for r in score_rows if r["is_total"] and card_entry(r["benchmark"]) is entry]
        if not rows:
            out.append({"benchmark": entry.benchmark, "model_card": entry.figure, "run_id": None})
            continue
        for r in rows:
            acc = None if r["accuracy"] is None else 100 * r["accuracy"]
            out.append({
                "benchmark": entry.benchmark, "model_card": entry.figure, "run_id": r["run_id"],
                "model": r["model"], "samples": r["samples"], "graded": r["graded"], "accuracy": acc,
                "gap": None if acc is None else acc - entry.figure,
                "truncated_share": r["truncated"] / r["samples"] if r["samples"] else None,
                "acc_complete": None if r["acc_complete"] is None else 100 * r["acc_complete"],
                "acc_truncated": None if r["acc_truncated"] is None else 100 * r["acc_truncated"],
                "truncation_cost": None if r["truncation_cost"] is None else 100 * r["truncation_cost"],
                "grades_from": r["grades_from"]})
    return out
