"""Runs: create/update, counts, lookup by name or id (the one `resolve_run`), listing.

Callers own the transaction for writes. Run ids are slugs of run names (records.slugify_run).
"""

from __future__ import annotations

import json
import os

import duckdb

from workbench.errors import UsageError
from workbench.records import RunRecord, slugify_run


def upsert_run(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    """Create the run, or update its model/source/settings (keeping created_at)."""
    con.execute(
        """INSERT INTO runs (run_id, name, model, source, settings, synthetic)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id) DO UPDATE SET name = excluded.name,
             model = coalesce(excluded.model, runs.model), source = excluded.source,
             settings = excluded.settings, synthetic = excluded.synthetic,
             updated_at = now()""",
        [run.run_id, run.name, run.model, run.source, json.dumps(run.settings, default=str), run.synthetic])


def refresh_run_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    con.execute(
        """UPDATE runs SET
             n_samples = c.n, n_with_image = c.wi, n_correct = c.nc, n_graded = c.ng, n_failed = c.nf,
             model = coalesce(c.model, runs.model), updated_at = now()
           FROM (SELECT count(*) n, count(*) FILTER (n_images > 0) wi,
                        count(*) FILTER (correct) nc, count(correct) ng,
                        count(*) FILTER (status = 'failed') nf, mode(model) model
                 FROM samples WHERE run_id = ?) c
           WHERE runs.run_id = ?""", [run_id, run_id])



def run_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]


def resolve_run(con: duckdb.DuckDBPyConnection, run: str) -> str:
    """The run id for what a user typed: a run id, a run name, or a name whose slug is an id.

    The one rule every command and page uses (`--run "My Run"` and `--run my-run` both work).
    Raises UsageError naming the known runs when nothing matches.
    """
    rows = con.execute("SELECT run_id, name FROM runs ORDER BY run_id").fetchall()
    ids = {r[0] for r in rows}
    if run in ids:
        return run
    named = [r[0] for r in rows if r[1] == run]
    if named:
        return named[0]
    if slugify_run(run) in ids:
        return slugify_run(run)
    known = ", ".join(f"{i} ({n})" if n != i else i for i, n in rows) or "none"
    raise UsageError(f"no run {run!r} in the store (runs: {known})")


def resolve_runs(con: duckdb.DuckDBPyConnection, runs: list[str] | None) -> list[str] | None:
    """`resolve_run` for each of `runs`; None (all runs) when none are given."""
    return [resolve_run(con, r) for r in runs] if runs else None


def lookup_runs(db: str | os.PathLike | None, runs: list[str] | None) -> list[str] | None:
    """`resolve_runs` on a short connection to the store file `db`."""
    from workbench.store.db import connect
    with connect(db) as con:
        return resolve_runs(con, runs)


def lookup_run(db: str | os.PathLike | None, run: str) -> str:
    """`resolve_run` on a short connection to the store file `db`."""
    return (lookup_runs(db, [run]) or [run])[0]


def runs_summary_sql() -> str:
    """One row per run: counts, the one accuracy (and where it came from), and per registered detector
    the share of samples it flags (detectors that need an image: of the samples with an image) and
    the count. Column names: `<detector>` (share) and `<detector>_samples` (count)."""
    from workbench.analysis import registry
    from workbench.store.grades import grade_source_sql, grade_sql
    per_detector = []
    for spec in registry.specs():
        denominator = "g.with_image" if spec.requires_image else "g.samples"
        per_detector.append(
            f"coalesce(f.{spec.name}, 0) / greatest({denominator}, 1) AS {spec.name}, "
            f"coalesce(f.{spec.name}, 0) AS {spec.name}_samples")
    counts = ", ".join(f"count(DISTINCT sample_id) FILTER (WHERE detector = '{s.name}') AS {s.name}"
                       for s in registry.specs())
    return f"""
WITH g AS (
    SELECT s.run_id, count(*) AS samples, count(*) FILTER (WHERE s.n_images > 0) AS with_image,
           count({grade_sql()}) AS graded, count(*) FILTER (WHERE {grade_sql()}) AS n_correct,
           count(*) FILTER (WHERE {grade_source_sql()} = 'source') AS graded_by_source,
           count(*) FILTER (WHERE {grade_source_sql()} = 'workbench') AS graded_by_workbench,
           count(*) FILTER (WHERE s.status = 'failed') AS failed
    FROM samples s LEFT JOIN trace_stats t USING (run_id, sample_id) GROUP BY s.run_id),
f AS (SELECT run_id{', ' + counts if counts else ''} FROM flags GROUP BY run_id)
SELECT r.run_id, r.name, r.model, r.source, coalesce(g.samples, 0) AS samples,
       coalesce(g.with_image, 0) AS with_image,
       CASE WHEN g.graded > 0 THEN g.n_correct / g.graded END AS accuracy, coalesce(g.graded, 0) AS graded,
       CASE WHEN g.graded_by_source > 0 AND g.graded_by_workbench > 0 THEN 'source + workbench'
            WHEN g.graded_by_source > 0 THEN 'source' WHEN g.graded_by_workbench > 0 THEN 'workbench' END AS graded_by,
       coalesce(g.failed, 0) AS failed, r.synthetic, r.created_at, r.updated_at
       {''.join(', ' + p for p in per_detector)}
FROM runs r LEFT JOIN g USING (run_id) LEFT JOIN f USING (run_id)
ORDER BY r.created_at, r.run_id"""


SYNTHETIC_RUN_NAMES = "SELECT name FROM runs WHERE synthetic ORDER BY name"
