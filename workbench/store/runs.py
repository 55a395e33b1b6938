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
