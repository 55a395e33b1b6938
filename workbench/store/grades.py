"""The one accuracy: which grade a sample has and where it came from.

A sample's grade is the source's own per-sample grade (`samples.correct`, from the result file)
when it has one, else the workbench's (`trace_stats.extracted_correct`: the answer graded by the
benchmark's rules). Every view, export and report uses these expressions, so they all agree.
"""

from __future__ import annotations


def grade_sql(s: str = "s", t: str = "t") -> str:
    """SQL for a sample's grade (TRUE/FALSE/NULL); `s` aliases samples, `t` trace_stats (LEFT JOINed)."""
    return f"coalesce({s}.correct, {t}.extracted_correct)"


def grade_source_sql(s: str = "s", t: str = "t") -> str:
    """SQL for where the grade came from: 'source', 'workbench' or NULL (ungraded)."""
    return (f"CASE WHEN {s}.correct IS NOT NULL THEN 'source' "
            f"WHEN {t}.extracted_correct IS NOT NULL THEN 'workbench' END")
