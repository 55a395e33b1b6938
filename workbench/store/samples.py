"""Samples: bulk, idempotent writes (Arrow). Callers own the transaction.

Samples are keyed by (run_id, sample_id); an unchanged row (same content hash) is left as it is, a
changed one is replaced. Imports stage their rows batch by batch and publish them in one transaction
(store/staging.py), with more rules on top: repeated ids, rows from another source.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
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


def _upsert(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """Write the temp table `_new` into `samples` (insert new, replace changed, keep identical)."""
    changed = one_row(con.execute(
        """SELECT count(*) FROM _new n JOIN samples s ON s.run_id = ? AND s.sample_id = n.sample_id
           WHERE s.content_hash <> n.content_hash""", [run_id]))[0]
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
