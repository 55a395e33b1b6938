"""Runs: create/update, counts, lookup by name or id (the one `resolve_run`), rename/delete/merge.

Callers own the transaction for writes. Run ids are slugs of run names (records.slugify_run).
"""

from __future__ import annotations

import json
import os

import duckdb

from workbench.errors import UsageError
from workbench.records import RunRecord, slugify_run
from workbench.store.rows import one_row


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
    from workbench.store.summary import mark_stale
    mark_stale(con, [run_id])   # its samples changed: the summaries are recomputed before they are shown



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
        return str(named[0])
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


SYNTHETIC_RUN_NAMES = "SELECT name FROM runs WHERE synthetic ORDER BY name"


def attach_source_info(con: duckdb.DuckDBPyConnection, run_id: str, *, config: dict | None = None,
                       reported: dict | None = None) -> None:
    """Merge what a source says about the run: its config (replaced) and reported metrics (by file name)."""
    if config:
        con.execute("UPDATE runs SET config = ? WHERE run_id = ?", [json.dumps(config, default=str), run_id])
    if reported:
        row = con.execute("SELECT reported FROM runs WHERE run_id = ?", [run_id]).fetchone()
        merged = json.loads(row[0]) if row and row[0] else {}
        merged.update(reported)
        con.execute("UPDATE runs SET reported = ? WHERE run_id = ?", [json.dumps(merged, default=str), run_id])


def record_import_file(con: duckdb.DuckDBPyConnection, run_id: str, *, path: str, source_key: str, fmt: str,
                       task: str | None, role: str, n_bytes: int | None, n_records: int | None,
                       grade_field: str | None, counts: dict, notes: list[str]) -> None:
    """One row of `import_files` (replaced when the same file is imported into the run again)."""
    con.execute(
        """INSERT OR REPLACE INTO import_files (run_id, path, source_key, format, task, role, n_bytes, n_records,
                                               grade_field, counts, notes, imported_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())""",
        [run_id, path, source_key, fmt, task, role, n_bytes, n_records, grade_field,
         json.dumps(counts), json.dumps(notes[:50])])


def sample_count(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    return int(one_row(con.execute("SELECT count(*) FROM samples WHERE run_id = ?", [run_id]))[0])


def run_exists(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    return bool(one_row(con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]))[0] > 0)


# --- rename / delete / merge -------------------------------------------------------------------------

def _run_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, bool, bool]]:
    """(table, has sample_id, run_id is in its primary key) of every table keyed by run (later ones too)."""
    rows = con.execute(
        """SELECT table_name, bool_or(column_name = 'sample_id') FROM information_schema.columns
           WHERE table_schema = 'main' AND table_catalog = current_database()
           GROUP BY table_name HAVING bool_or(column_name = 'run_id') ORDER BY table_name""").fetchall()
    keyed = {r[0] for r in con.execute(
        """SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'
           AND database_name = current_database() AND list_contains(constraint_column_names, 'run_id')""").fetchall()}
    return [(t, bool(s), t in keyed) for t, s in rows if t != "runs"]


def _move(con: duckdb.DuckDBPyConnection, table: str, src: str, dst: str, id_prefix: str | None,
          has_sample: bool, run_in_key: bool) -> None:
    """Re-key one table's rows of run `src` to run `dst` (key columns: insert new rows, delete old ones)."""
    prefix = id_prefix is not None and has_sample
    if not run_in_key:
        sets = "run_id = ?" + (", sample_id = ? || sample_id" if prefix else "")
        con.execute(f"UPDATE {table} SET {sets} WHERE run_id = ?", [dst] + ([id_prefix] if prefix else []) + [src])
        return
    repl = "? AS run_id" + (", ? || sample_id AS sample_id" if prefix else "")
    con.execute(f"INSERT INTO {table} SELECT * REPLACE ({repl}) FROM {table} WHERE run_id = ?",
                [dst] + ([id_prefix] if prefix else []) + [src])
    con.execute(f"DELETE FROM {table} WHERE run_id = ?", [src])


def _rekey_cluster_runs(con: duckdb.DuckDBPyConnection, old: str, new: str) -> None:
    for cid, runs in con.execute("SELECT cluster_run_id, runs FROM cluster_runs WHERE list_contains(runs, ?)",
                                 [old]).fetchall():
        renamed = list(dict.fromkeys(new if r == old else r for r in runs))
        con.execute("UPDATE cluster_runs SET runs = ? WHERE cluster_run_id = ?", [renamed, cid])


def rename_run(con: duckdb.DuckDBPyConnection, run: str, new_name: str) -> str:
    """Rename a run (its id becomes the new name's slug; every table follows). Returns the new id."""
    old = resolve_run(con, run)
    new = slugify_run(new_name)
    if new != old and run_exists(con, new):
        raise UsageError(f"a run {new!r} already exists; merge into it with `workbench runs merge {old} --into {new}`")
    if new != old:
        con.execute("INSERT INTO runs SELECT * REPLACE (? AS run_id) FROM runs WHERE run_id = ?", [new, old])
        for table, has_sample, keyed in _run_tables(con):
            _move(con, table, old, new, None, has_sample, keyed)
        _rekey_cluster_runs(con, old, new)
        con.execute("DELETE FROM runs WHERE run_id = ?", [old])
    con.execute("UPDATE runs SET name = ?, updated_at = now() WHERE run_id = ?", [new_name, new])
    return new


def delete_run(con: duckdb.DuckDBPyConnection, run: str) -> dict[str, int]:
    """Delete a run and everything keyed by it (clusterings that included it too). Returns rows deleted."""
    run_id = resolve_run(con, run)
    counts: dict[str, int] = {}
    stale = [r[0] for r in con.execute("SELECT cluster_run_id FROM cluster_runs WHERE list_contains(runs, ?)",
                                       [run_id]).fetchall()]
    for cid in stale:
        for table in ("cluster_members", "clusters", "cluster_runs"):
            con.execute(f"DELETE FROM {table} WHERE cluster_run_id = ?", [cid])
    for table, _, _ in _run_tables(con):
        counts[table] = one_row(con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id]))[0]
    con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
    counts["cluster_runs"] = len(stale)
    return counts


def merge_runs(con: duckdb.DuckDBPyConnection, runs: list[str], into: str, *, prefix: bool = False) -> str:
    """Move the samples (and their analysis, tags, tokens) of `runs` into the run named `into`.

    Sample ids that would collide are refused unless `prefix` (then every moved id becomes
    `<source run id>/<id>`). The source runs are deleted; returns the target run id.
    """
    from workbench.store import summary
    sources = [resolve_run(con, r) for r in runs]
    target = slugify_run(into)
    for run_id in {*sources, target}:   # their summary rows would collide when moved: recomputed below
        summary.forget(con, run_id)
    if not run_exists(con, target):
        first = sources[0]
        con.execute("INSERT INTO runs SELECT * REPLACE (? AS run_id, ? AS name) FROM runs WHERE run_id = ?",
                    [target, into, first])
        for col in ("n_samples", "n_with_image", "n_correct", "n_graded", "n_failed"):
            con.execute(f"UPDATE runs SET {col} = 0 WHERE run_id = ?", [target])
    sources = [s for s in sources if s != target]
    if not prefix:
        clash = con.execute(
            f"""SELECT sample_id, count(*) FROM samples WHERE run_id IN ({', '.join('?' * (len(sources) + 1))})
                GROUP BY sample_id HAVING count(*) > 1 LIMIT 1""", [*sources, target]).fetchone()
        if clash:
            raise UsageError(f"sample id {clash[0]!r} is in more than one of these runs; merge with --prefix to "
                             f"keep them apart as '<run>/<id>'")
    for src in sources:
        for table, has_sample, keyed in _run_tables(con):
            _move(con, table, src, target, f"{src}/" if prefix else None, has_sample, keyed)
        _rekey_cluster_runs(con, src, target)
        con.execute("DELETE FROM runs WHERE run_id = ?", [src])
    refresh_run_counts(con, target)
    summary.refresh(con, [target])
    return target
