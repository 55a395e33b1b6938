"""Samples: bulk, idempotent writes (Arrow). Callers own the transaction.

Samples are keyed by (run_id, sample_id); an unchanged row (same content hash) is left as it is, a
changed one is replaced. Imports write batch by batch (`begin_import` / `import_batch` / `end_import`)
and get more on top: an id repeated inside one file is kept apart as `id#2` when the rows differ (and
dropped when they are identical), and a row that would replace one from ANOTHER source (another file
name or task) is refused unless the import says `allow_update`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from workbench.errors import InputError
from workbench.records import SAMPLE_FIELDS
from workbench.store.rows import one_row

SAMPLES_SCHEMA = pa.schema([
    ("sample_id", pa.string()), ("question", pa.string()), ("response", pa.string()),
    ("final_answer", pa.string()), ("ground_truth", pa.string()), ("correct", pa.bool_()),
    ("benchmark", pa.string()), ("subset", pa.string()), ("model", pa.string()),
    ("image_ids", pa.list_(pa.string())), ("n_images", pa.int32()), ("finish_reason", pa.string()),
    ("prompt_tokens", pa.int32()), ("completion_tokens", pa.int32()), ("status", pa.string()),
    ("error", pa.string()), ("metadata", pa.string()), ("source_file", pa.string()),
    ("source_line", pa.int32()), ("content_hash", pa.string()), ("source_id", pa.string()),
    ("source_key", pa.string()),
])
IMPORT_MEMORY_LIMIT = "512MB"
_PROVENANCE = ("source_file", "source_line", "content_hash", "source_id", "source_key")


def samples_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Arrow table of sample rows (dicts with SAMPLE_FIELDS keys), content hashes added."""
    cols: dict[str, list] = {name: [] for name in SAMPLES_SCHEMA.names}
    for row in rows:
        for key in SAMPLE_FIELDS:
            v = row.get(key)
            if key == "metadata":
                v = json.dumps(v or {}, ensure_ascii=False, default=str)
            elif key == "image_ids":
                v = list(v or [])
            elif key == "status":
                v = v or "ok"
            elif key == "n_images":
                v = int(v or 0)
            cols[key].append(v)
        cols["content_hash"].append(None)  # computed by DuckDB in upsert_samples
        cols["source_id"].append(row.get("source_id"))
        cols["source_key"].append(row.get("source_key"))
    return pa.table(cols, schema=SAMPLES_SCHEMA)


def _md5(columns: list[str]) -> str:
    return "md5(concat_ws(chr(31), " + ", ".join(f"coalesce(CAST({c} AS VARCHAR), chr(0))" for c in columns) + "))"


# Hash of the stored fields (not where they came from): analysis re-runs when it changes. Unchanged by
# migration 0007, so stores made before it keep their hashes.
_HASHED = [c for c in SAMPLES_SCHEMA.names if c not in _PROVENANCE]
_HASH_SQL = _md5(_HASHED)
_COLS = ", ".join(SAMPLES_SCHEMA.names)


def _upsert(con: duckdb.DuckDBPyConnection, run_id: str, *, refuse_other_sources: str | None = None) -> dict[str, int]:
    """Write the temp table `_new` into `samples` (insert new, replace changed, keep identical).

    With `refuse_other_sources` (the file being imported), a changed row whose stored version came from
    another source (`source_key`) raises InputError instead, before anything of the batch is written.
    """
    other_source = "coalesce(s.source_key, '') <> coalesce(n.source_key, '')"
    changed, line, sid, other = one_row(con.execute(
        f"""SELECT count(*), min(n.source_line) FILTER (WHERE {other_source}),
                  arg_min(n.sample_id, n.source_line) FILTER (WHERE {other_source}),
                  arg_min(coalesce(s.source_key, s.source_file, 'a model run'), n.source_line)
                    FILTER (WHERE {other_source})
           FROM _new n JOIN samples s ON s.run_id = ? AND s.sample_id = n.sample_id
           WHERE s.content_hash <> n.content_hash""", [run_id]))
    if refuse_other_sources is not None and line is not None:
        raise InputError(
            f"run {run_id!r} already holds this sample from another source ({other}) with other content; "
            f"importing would overwrite it. Add --update to replace it, or import into another run with "
            f"--run NAME", path=refuse_other_sources, line=line, sample_id=sid)
    if changed:
        con.execute(
            """DELETE FROM samples WHERE run_id = ? AND sample_id IN (
                 SELECT n.sample_id FROM _new n JOIN samples s ON s.run_id = ? AND s.sample_id = n.sample_id
                 WHERE s.content_hash <> n.content_hash)""", [run_id, run_id])
    inserted = one_row(con.execute(
        f"""INSERT INTO samples (run_id, {_COLS}, n_chars)
            SELECT ?, {', '.join('n.' + c for c in SAMPLES_SCHEMA.names)}, length(n.response) FROM _new n
            WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.run_id = ? AND s.sample_id = n.sample_id)""",
        [run_id, run_id]))[0]
    total = one_row(con.execute("SELECT count(*) FROM _new"))[0]
    return {"total": total, "new": inserted - changed, "changed": changed, "unchanged": total - inserted}


def upsert_samples(con: duckdb.DuckDBPyConnection, run_id: str, table: pa.Table) -> dict[str, int]:
    """Insert new samples, replace changed ones, leave identical ones. Returns counts."""
    con.register("_incoming", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new AS SELECT * REPLACE ({_HASH_SQL} AS content_hash) "
                    "FROM _incoming")
    finally:
        con.unregister("_incoming")
    dup = con.execute("SELECT sample_id, count(*) c FROM _new GROUP BY 1 HAVING c > 1 LIMIT 1").fetchone()
    if dup:
        raise InputError(f"sample id {dup[0]!r} appears {dup[1]} times in one write; ids must be unique in a run")
    counts = _upsert(con, run_id)
    con.execute("DROP TABLE _new")
    return counts


# --- imports -----------------------------------------------------------------------------------------

@dataclass
class BatchResult:
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def begin_import(con: duckdb.DuckDBPyConnection) -> None:
    """Start tracking the rows an import writes (for repeated ids across its batches)."""
    con.execute("SET enable_progress_bar = false")  # the CLI prints its own progress; DuckDB's would interleave
    # an import streams batches: DuckDB's buffers (its cache, the transaction's pending rows) are capped so
    # memory stays bounded by the batch, not the file; past the cap DuckDB spills to its temp directory
    con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
    con.execute("""CREATE OR REPLACE TEMP TABLE _import_seen (run_id VARCHAR, path VARCHAR, base_id VARCHAR,
                   sample_id VARCHAR, row_hash VARCHAR, line INTEGER)""")


def end_import(con: duckdb.DuckDBPyConnection) -> None:
    for t in ("_import_seen", "_b", "_u", "_new"):
        con.execute(f"DROP TABLE IF EXISTS {t}")


def import_batch(con: duckdb.DuckDBPyConnection, run_id: str, table: pa.Table, *, path: str,
                 allow_update: bool = False) -> BatchResult:
    """Write one batch of one file into `run_id` (inside the import's transaction).

    - A repeated id with identical content is written once; with other content the later rows are kept
      apart as `id#2`, `id#3` (in order of first appearance), and the notes say so.
    - A row that differs from the stored one and came from another source (`source_key`) is refused
      (InputError naming the file, line and sample) unless `allow_update`.
    """
    res = BatchResult(counts={"identical_repeats": 0, "kept_apart": 0})
    con.register("_incoming", table)
    try:
        # one hash pass: with the source's id as the id, the content hash of a first occurrence doubles as
        # the hash that finds identical repeats later (same id and same content = same hash)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new AS SELECT * REPLACE ({_HASH_SQL} AS content_hash), "
                    "sample_id AS base_id, 1 AS k FROM _incoming")
    finally:
        con.unregister("_incoming")
    repeated = one_row(con.execute(
        """SELECT (SELECT count(*) - count(DISTINCT sample_id) FROM _new) + (SELECT count(*) FROM _new n
             WHERE EXISTS (SELECT 1 FROM _import_seen s
                           WHERE s.run_id = ? AND s.path = ? AND s.base_id = n.base_id))""",
        [run_id, path]))[0]
    if repeated:
        _separate_repeats(con, run_id, path, res)
    clash = con.execute("""SELECT n.source_line, n.sample_id FROM _new n WHERE EXISTS (
                             SELECT 1 FROM _new m WHERE m.sample_id = n.sample_id AND m.source_line <> n.source_line)
                           OR EXISTS (SELECT 1 FROM _import_seen s WHERE s.run_id = ? AND s.path = ?
                                      AND s.sample_id = n.sample_id)
                           ORDER BY 1 LIMIT 1""", [run_id, path]).fetchone()
    if clash:
        raise InputError(f"id {clash[1]!r} is both a repeated id kept apart and an id of its own in this file; "
                         f"rename one of them", path=path, line=clash[0])
    res.counts.update(_upsert(con, run_id, refuse_other_sources=None if allow_update else path))
    con.execute("INSERT INTO _import_seen SELECT ?, ?, base_id, sample_id, row_hash, source_line FROM _new",
                [run_id, path]) if repeated else con.execute(
        "INSERT INTO _import_seen SELECT ?, ?, base_id, sample_id, content_hash, source_line FROM _new", [run_id, path])
    return res


def _separate_repeats(con: duckdb.DuckDBPyConnection, run_id: str, path: str, res: BatchResult) -> None:
    """Rewrite `_new` when ids repeat: identical repeats dropped, other content kept apart as `id#k`."""
    con.execute("CREATE OR REPLACE TEMP TABLE _b AS SELECT * EXCLUDE (k), content_hash AS row_hash FROM _new")
    con.execute("""CREATE OR REPLACE TEMP TABLE _u AS
        SELECT * EXCLUDE (rn) FROM (
          SELECT *, row_number() OVER (PARTITION BY base_id, row_hash ORDER BY source_line) AS rn FROM _b) b
        WHERE rn = 1 AND NOT EXISTS (SELECT 1 FROM _import_seen s WHERE s.run_id = ? AND s.path = ?
                                     AND s.base_id = b.base_id AND s.row_hash = b.row_hash)""", [run_id, path])
    n_b, n_u = one_row(con.execute("SELECT (SELECT count(*) FROM _b), (SELECT count(*) FROM _u)"))
    res.counts["identical_repeats"] = n_b - n_u
    if n_b > n_u:
        line, sid = one_row(con.execute("""SELECT b.source_line, b.base_id FROM _b b ANTI JOIN _u u
                                   ON u.source_line = b.source_line ORDER BY 1 LIMIT 1"""))
        res.notes.append(f"{path}:{line}: id {sid!r} repeats an identical earlier row: stored once"
                         + (f" ({n_b - n_u} such rows in this batch)" if n_b - n_u > 1 else ""))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _new AS
        SELECT * EXCLUDE (base_id, row_hash, k) REPLACE ({_HASH_SQL} AS content_hash), base_id, row_hash, k
        FROM (SELECT * REPLACE (CASE WHEN k = 1 THEN base_id ELSE base_id || '#' || k END AS sample_id)
              FROM (SELECT u.*,
                           coalesce(p.n, 0) + row_number() OVER (PARTITION BY u.base_id ORDER BY u.source_line) AS k
                    FROM _u u LEFT JOIN (SELECT base_id, count(DISTINCT row_hash) AS n FROM _import_seen
                                         WHERE run_id = ? AND path = ? GROUP BY base_id) p USING (base_id)))""",
                [run_id, path])
    apart = one_row(con.execute("SELECT count(*) FROM _new WHERE k > 1"))[0]
    res.counts["kept_apart"] = apart
    for line, base, sid in con.execute("SELECT source_line, base_id, sample_id FROM _new WHERE k > 1 "
                                       "ORDER BY source_line LIMIT 3").fetchall():
        res.notes.append(f"{path}:{line}: id {base!r} repeats an earlier row with other content: kept apart as "
                         f"{sid!r}")
    if apart > 3:
        res.notes.append(f"{path}: ... {apart - 3} more repeated ids kept apart")
