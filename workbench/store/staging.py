"""Staged imports: bounded memory, resumable, and all-or-nothing for readers.

An import writes each batch of rows into `import_staging` and commits it (DuckDB keeps a
transaction's appended rows in memory, so one transaction over a 3 GB file would need several GB;
a committed batch does not), together with a row of `import_batches` that lets a re-run resume
after it. When every file is read, `publish` moves the staged rows into `samples` in ONE transaction
(a bulk INSERT ... SELECT, which DuckDB writes to disk as it goes) and drops the staging rows.
Readers never read the staging tables, so they see an import whole or not at all.

    job = open_job(con, fingerprint, description)      # resumes an unfinished job with that fingerprint
    res = stage_batch(con, job.import_id, run_id, table, path=..., allow_update=...)
    record_batch(con, job.import_id, path, batch_no, ...)   # then COMMIT
    publish(con, job.import_id)                              # inside the final transaction
    discard(con, import_id)                                  # a failed import: staged rows and their images

The rules for rows are those of an import (store/samples.py): an id repeated inside one file is kept
apart as `id#2` when the rows differ and stored once when identical; a row that would replace one
from another source is refused unless `allow_update`. "The stored row" is the one this import staged
earlier (another file of the same import) or else the one in `samples`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from workbench.errors import InputError
from workbench.store.db import bound_memory
from workbench.store.rows import one_row
from workbench.store.samples import _HASH_SQL, SAMPLES_SCHEMA

_COLS = SAMPLES_SCHEMA.names
_BIG = ("question", "response", "metadata", "final_answer", "ground_truth")   # not kept for unchanged rows
_LIVE = "import_id = ? AND NOT superseded AND action <> 'same'"


@dataclass
class BatchResult:
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class SeenIds:
    """Which (run, id) pairs an import may have staged already: a Bloom filter of fixed size (8 MB).

    "No" is certain, so a batch of ids the import never staged skips the checks that would scan every
    row it staged before (a growing table: quadratic over a million traces); "maybe" runs them. Only
    false positives can err (a rolled-back batch's ids stay in): they cost a check, never a wrong row.
    Hashes are DuckDB's `hash()`, the same in every process, so a resumed import rebuilds the filter."""
    BITS = 1 << 26
    K = 4

    def __init__(self) -> None:
        self.bits = np.zeros(self.BITS // 8, dtype=np.uint8)

    def _index(self, hashes: np.ndarray) -> np.ndarray:
        h1, h2 = hashes & 0xFFFFFFFF, (hashes >> np.uint64(32)) | np.uint64(1)
        return np.stack([(h1 + np.uint64(i) * h2) % np.uint64(self.BITS) for i in range(self.K)])

    def add(self, hashes: np.ndarray) -> None:
        idx = self._index(hashes).ravel()
        np.bitwise_or.at(self.bits, idx >> np.uint64(3), (np.uint8(1) << (idx & np.uint64(7)).astype(np.uint8)))

    def any_of(self, hashes: np.ndarray) -> bool:
        if not len(hashes):
            return False
        idx = self._index(hashes)
        hit = (self.bits[idx >> np.uint64(3)] >> (idx & np.uint64(7)).astype(np.uint8)) & 1
        return bool(hit.all(axis=0).any())


def _id_hashes(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> np.ndarray:
    """uint64 hashes of the (run_id, id) pairs a query returns as (run_id, id)."""
    col = con.execute(f"SELECT hash(r || chr(0) || i) AS h FROM ({sql}) t(r, i)", params).fetchnumpy()["h"]
    return np.asarray(col, dtype=np.uint64)


@dataclass
class Job:
    import_id: str
    resumed: bool = False
    started_at: Any = None
    discarded: list[str] = field(default_factory=list)   # unfinished imports of other files, dropped
    seen: SeenIds = field(default_factory=SeenIds)       # ids it staged (rebuilt when resumed)


def prepare_import(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings of an import connection."""
    con.execute("SET enable_progress_bar = false")  # the CLI prints its own progress; DuckDB's would interleave
    bound_memory(con)   # memory bounded by the batch, not the file
    # No vacuum while batches are staged: DuckDB's checkpoint (one per committed batch) otherwise merges
    # the appended row groups again and again, in a pattern that rewrites ever more of the staged rows
    # (commits of 4, 8, 17, 37, 117 s in a row; quadratic over a million traces). Nothing is deleted
    # while staging, so vacuum has nothing to reclaim; `publish` turns it back on.
    con.execute("SET max_vacuum_tasks = 0")


def open_job(con: duckdb.DuckDBPyConnection, fingerprint: str, description: str) -> Job:
    """The unfinished import with this fingerprint (same files, sizes, times and options) to resume, or a
    new one. Unfinished imports with another fingerprint are discarded (they were never visible).
    Commits."""
    con.execute("BEGIN TRANSACTION")
    try:
        found: tuple[str, Any] | None = None
        discarded: list[str] = []
        jobs = con.execute("SELECT import_id, fingerprint, started_at, description FROM import_jobs "
                           "ORDER BY started_at").fetchall()
        for import_id, fp, started, desc in jobs:
            if fp == fingerprint and found is None:
                found = (import_id, started)
            else:
                _discard(con, import_id)
                discarded.append(f"{desc} (started {started:%Y-%m-%d %H:%M} UTC)")
        if found is None:
            job = Job(uuid.uuid4().hex, discarded=discarded)
            con.execute("INSERT INTO import_jobs (import_id, fingerprint, description) VALUES (?, ?, ?)",
                        [job.import_id, fingerprint, description])
        else:
            job = Job(found[0], resumed=True, started_at=found[1], discarded=discarded)
            for column in ("sample_id", "base_id"):
                job.seen.add(_id_hashes(con, f"SELECT run_id, {column} FROM import_staging WHERE import_id = ?",
                                        [job.import_id]))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return job


def staged_batches(con: duckdb.DuckDBPyConnection, import_id: str, path: str) -> list[dict[str, Any]]:
    """The committed batches of one file of a resumed import, in order."""
    rows = con.execute("""SELECT batch_no, last_line, n_records, ids_from_lines, images_stored, images_missing, state
                          FROM import_batches WHERE import_id = ? AND path = ? ORDER BY batch_no""",
                       [import_id, path]).fetchall()
    keys = ("batch_no", "last_line", "n_records", "ids_from_lines", "images_stored", "images_missing")
    return [dict(zip(keys, r[:6]), state=json.loads(r[6])) for r in rows]


def image_counts(con: duckdb.DuckDBPyConnection, import_id: str) -> tuple[int, int, int, str]:
    """Images an interrupted import counted (its counters are cumulative): stored, missing, unreadable
    references, and the first unreadable one."""
    stored, missing, unreadable, first = one_row(con.execute(
        """SELECT coalesce(max(images_stored), 0), coalesce(max(images_missing), 0),
                  coalesce(max(CAST(state->>'unreadable_images' AS INTEGER)), 0),
                  coalesce(min(nullif(state->>'first_unreadable', '')), '')
           FROM import_batches WHERE import_id = ?""", [import_id]))
    return int(stored), int(missing), int(unreadable), str(first)


def record_batch(con: duckdb.DuckDBPyConnection, import_id: str, path: str, batch_no: int, *, last_line: int,
                 n_records: int, ids_from_lines: int, images_stored: int, images_missing: int,
                 state: dict[str, Any]) -> None:
    """Mark one batch of a file as staged (in the batch's transaction): a re-run resumes after it."""
    con.execute("INSERT INTO import_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [import_id, path, batch_no, last_line, n_records, ids_from_lines, images_stored, images_missing,
                 json.dumps(state, default=str)])


def stage_batch(con: duckdb.DuckDBPyConnection, import_id: str, run_id: str, table: pa.Table, *, path: str,
                allow_update: bool = False, seen: SeenIds | None = None) -> BatchResult:
    """Stage one batch of one file for `run_id` (inside the batch's transaction). `seen`: the job's
    filter of staged ids (Job.seen); without it every check reads the rows staged before.

    - A repeated id with identical content is staged once; with other content the later rows are kept
      apart as `id#2`, `id#3` (in order of first appearance), and the notes say so.
    - A row that differs from the stored one and came from another source (`source_key`) is refused
      (InputError naming the file, line and sample) unless `allow_update`.
    """
    res = BatchResult(counts={"identical_repeats": 0, "kept_apart": 0})
    con.register("_incoming", table)
    try:
        # with the source's id as the id, the content hash of a first occurrence doubles as the hash that
        # finds identical repeats later (same id and same content = same hash)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _new AS SELECT *, sample_id AS base_id, content_hash AS row_hash,
                        1 AS k FROM (SELECT * REPLACE ({_HASH_SQL} AS content_hash) FROM _incoming)""")
    finally:
        con.unregister("_incoming")
    incoming = _id_hashes(con, "SELECT ?, base_id FROM _new", [run_id])
    # no id of this batch was staged by this import before (certain): nothing staged to compare with
    staged_before = seen is None or seen.any_of(incoming)
    seen_sql = "import_staging s WHERE s.import_id = ? AND s.run_id = ? AND s.source_file = ?"
    key = [import_id, run_id, path]
    repeated = one_row(con.execute(
        f"""SELECT (SELECT count(*) - count(DISTINCT sample_id) FROM _new) + (SELECT count(*) FROM _new n
              WHERE ? AND EXISTS (SELECT 1 FROM {seen_sql} AND s.base_id = n.base_id))""", [staged_before, *key]))[0]
    if repeated:
        _separate_repeats(con, key, path, res)
        staged_before = True   # ids kept apart as id#k: take the careful path
    clash = con.execute(f"""SELECT n.source_line, n.sample_id FROM _new n WHERE EXISTS (
                              SELECT 1 FROM _new m WHERE m.sample_id = n.sample_id AND m.source_line <> n.source_line)
                            OR (? AND EXISTS (SELECT 1 FROM {seen_sql} AND s.sample_id = n.sample_id))
                            ORDER BY 1 LIMIT 1""", [staged_before, *key]).fetchone()
    if clash:
        raise InputError(f"id {clash[1]!r} is both a repeated id kept apart and an id of its own in this file; "
                         f"rename one of them", path=path, line=clash[0])
    # the row each new one meets: staged earlier by this import (another file), else the stored one
    if staged_before:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _cur AS
            SELECT sample_id, content_hash, source_key, source_file, true AS staged FROM import_staging
            WHERE {_LIVE} AND run_id = ? AND sample_id IN (SELECT sample_id FROM _new)
            UNION ALL
            SELECT s.sample_id, s.content_hash, s.source_key, s.source_file, false FROM samples s
            WHERE s.run_id = ? AND s.sample_id IN (SELECT sample_id FROM _new)
              AND NOT EXISTS (SELECT 1 FROM import_staging g WHERE g.import_id = ? AND NOT g.superseded
                              AND g.action <> 'same' AND g.run_id = ? AND g.sample_id = s.sample_id)""",
                    [import_id, run_id, run_id, import_id, run_id])
    else:
        con.execute("""CREATE OR REPLACE TEMP TABLE _cur AS
            SELECT s.sample_id, s.content_hash, s.source_key, s.source_file, false AS staged FROM samples s
            WHERE s.run_id = ? AND s.sample_id IN (SELECT sample_id FROM _new)""", [run_id])
    if not allow_update:
        other = con.execute(
            """SELECT n.source_line, n.sample_id, coalesce(c.source_key, c.source_file, 'a model run')
               FROM _new n JOIN _cur c USING (sample_id)
               WHERE c.content_hash <> n.content_hash AND coalesce(c.source_key, '') <> coalesce(n.source_key, '')
               ORDER BY 1 LIMIT 1""").fetchone()
        if other:
            raise InputError(
                f"run {run_id!r} already holds this sample from another source ({other[2]}) with other content; "
                f"importing would overwrite it. Add --update to replace it, or import into another run with "
                f"--run NAME", path=path, line=other[0], sample_id=other[1])
    if staged_before:
        con.execute("""UPDATE import_staging SET superseded = true WHERE import_id = ? AND run_id = ?
                       AND NOT superseded AND action <> 'same' AND sample_id IN (
                         SELECT n.sample_id FROM _new n JOIN _cur c USING (sample_id)
                         WHERE c.staged AND c.content_hash <> n.content_hash)""", [import_id, run_id])
    action = ("CASE WHEN c.sample_id IS NULL THEN 'new' WHEN c.content_hash <> n.content_hash THEN 'changed' "
              "ELSE 'same' END")
    cols = ", ".join(f"CASE WHEN {action} = 'same' THEN NULL ELSE n.{c} END" if c in _BIG else f"n.{c}"
                     for c in _COLS)
    con.execute(f"""INSERT INTO import_staging (import_id, run_id, action, base_id, row_hash, {', '.join(_COLS)})
                    SELECT ?, ?, {action}, n.base_id, n.row_hash, {cols}
                    FROM _new n LEFT JOIN _cur c USING (sample_id)""", [import_id, run_id])
    # fetchall: the next batch registers an Arrow table, which DuckDB refuses while a result is unread
    (total, new, changed), = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE c.sample_id IS NULL),
                  count(*) FILTER (WHERE c.content_hash <> n.content_hash)
           FROM _new n LEFT JOIN _cur c USING (sample_id)""").fetchall()
    res.counts.update(total=total, new=new, changed=changed, unchanged=total - new - changed)
    if seen is not None:
        seen.add(incoming)
        if repeated:
            seen.add(_id_hashes(con, "SELECT ?, sample_id FROM _new", [run_id]))
    return res


def _separate_repeats(con: duckdb.DuckDBPyConnection, key: list[str], path: str, res: BatchResult) -> None:
    """Rewrite `_new` when ids repeat: identical repeats dropped, other content kept apart as `id#k`."""
    seen = "import_staging s WHERE s.import_id = ? AND s.run_id = ? AND s.source_file = ?"
    con.execute("CREATE OR REPLACE TEMP TABLE _b AS SELECT * EXCLUDE (k) FROM _new")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _u AS
        SELECT * EXCLUDE (rn) FROM (
          SELECT *, row_number() OVER (PARTITION BY base_id, row_hash ORDER BY source_line) AS rn FROM _b) b
        WHERE rn = 1 AND NOT EXISTS (SELECT 1 FROM {seen} AND s.base_id = b.base_id AND s.row_hash = b.row_hash)""",
                key)
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
                    FROM _u u LEFT JOIN (SELECT s.base_id, count(DISTINCT s.row_hash) AS n FROM {seen}
                                         GROUP BY s.base_id) p USING (base_id)))""", key)
    apart = one_row(con.execute("SELECT count(*) FROM _new WHERE k > 1"))[0]
    res.counts["kept_apart"] = apart
    for line, base, sid in con.execute("SELECT source_line, base_id, sample_id FROM _new WHERE k > 1 "
                                       "ORDER BY source_line LIMIT 3").fetchall():
        res.notes.append(f"{path}:{line}: id {base!r} repeats an earlier row with other content: kept apart as "
                         f"{sid!r}")
    if apart > 3:
        res.notes.append(f"{path}: ... {apart - 3} more repeated ids kept apart")


def before_publish(con: duckdb.DuckDBPyConnection) -> None:
    """Vacuum on again (prepare_import turned it off): the publish deletes the staged rows, whose space the
    checkpoint after it reclaims."""
    con.execute("RESET max_vacuum_tasks")


def publish(con: duckdb.DuckDBPyConnection, import_id: str) -> None:
    """Move the staged rows into `samples` (inside the import's final transaction): changed rows replace the
    stored ones, new rows are inserted, unchanged ones stay; then the staging rows go."""
    con.execute("""DELETE FROM samples s WHERE EXISTS (
                     SELECT 1 FROM import_staging g WHERE g.import_id = ? AND NOT g.superseded
                     AND g.action = 'changed' AND g.run_id = s.run_id AND g.sample_id = s.sample_id)""",
                [import_id])
    con.execute(f"""INSERT INTO samples (run_id, {', '.join(_COLS)}, n_chars)
                    SELECT run_id, {', '.join(_COLS)}, length(response) FROM import_staging
                    WHERE {_LIVE}""", [import_id])
    finish(con, import_id)


def finish(con: duckdb.DuckDBPyConnection, import_id: str) -> None:
    for table in ("import_staging", "import_batches", "import_jobs"):
        con.execute(f"DELETE FROM {table} WHERE import_id = ?", [import_id])
    for t in ("_new", "_b", "_u", "_cur"):
        con.execute(f"DROP TABLE IF EXISTS {t}")


def discard(con: duckdb.DuckDBPyConnection, import_id: str) -> None:
    """Drop a failed import's staged rows, and the images only it brought. Commits."""
    con.execute("BEGIN TRANSACTION")
    try:
        _discard(con, import_id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _discard(con: duckdb.DuckDBPyConnection, import_id: str) -> None:
    con.execute("""CREATE OR REPLACE TEMP TABLE _orphans AS
        SELECT DISTINCT unnest(image_ids) AS image_id FROM import_staging WHERE import_id = ?
        EXCEPT SELECT DISTINCT unnest(image_ids) FROM samples
        EXCEPT SELECT DISTINCT unnest(image_ids) FROM import_staging WHERE import_id <> ?""", [import_id, import_id])
    for table in ("image_blobs", "images"):
        con.execute(f"DELETE FROM {table} WHERE image_id IN (SELECT image_id FROM _orphans)")
    con.execute("DROP TABLE _orphans")
    finish(con, import_id)
