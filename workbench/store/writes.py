"""Writes to the store: runs, samples (bulk, Arrow), images. Callers own the transaction.

All writes are idempotent: samples are keyed by (run_id, sample_id); an unchanged row (same
content hash) is left as it is, a changed one is replaced; images are keyed by content hash.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any, Iterable

import duckdb
import pyarrow as pa

from workbench.records import SAMPLE_FIELDS, RunRecord

SAMPLES_SCHEMA = pa.schema([
    ("sample_id", pa.string()), ("question", pa.string()), ("response", pa.string()),
    ("final_answer", pa.string()), ("ground_truth", pa.string()), ("correct", pa.bool_()),
    ("benchmark", pa.string()), ("subset", pa.string()), ("model", pa.string()),
    ("image_ids", pa.list_(pa.string())), ("n_images", pa.int32()), ("finish_reason", pa.string()),
    ("prompt_tokens", pa.int32()), ("completion_tokens", pa.int32()), ("status", pa.string()),
    ("error", pa.string()), ("metadata", pa.string()), ("source_file", pa.string()),
    ("source_line", pa.int32()), ("content_hash", pa.string()),
])


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
    return pa.table(cols, schema=SAMPLES_SCHEMA)


# Hash of the stored fields (not the source position): analysis re-runs when it changes.
_HASHED = [c for c in SAMPLES_SCHEMA.names if c not in ("source_file", "source_line", "content_hash")]
_HASH_SQL = "md5(concat_ws(chr(31), " + ", ".join(
    f"coalesce(CAST({c} AS VARCHAR), chr(0))" for c in _HASHED) + "))"


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
        from workbench.errors import InputError
        raise InputError(f"sample id {dup[0]!r} appears {dup[1]} times in one import; ids must be unique in a run")
    changed = con.execute(
        """SELECT count(*) FROM _new n JOIN samples s ON s.run_id = ? AND s.sample_id = n.sample_id
           WHERE s.content_hash <> n.content_hash""", [run_id]).fetchone()[0]
    con.execute(
        """DELETE FROM samples WHERE run_id = ? AND sample_id IN (
             SELECT n.sample_id FROM _new n JOIN samples s ON s.run_id = ? AND s.sample_id = n.sample_id
             WHERE s.content_hash <> n.content_hash)""", [run_id, run_id])
    cols = ", ".join(SAMPLES_SCHEMA.names)
    inserted = con.execute(
        f"""INSERT INTO samples (run_id, {cols})
            SELECT ?, {', '.join('n.' + c for c in SAMPLES_SCHEMA.names)} FROM _new n
            WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.run_id = ? AND s.sample_id = n.sample_id)""",
        [run_id, run_id]).fetchone()[0]
    total = con.execute("SELECT count(*) FROM _new").fetchone()[0]
    con.execute("DROP TABLE _new")
    return {"total": total, "new": inserted - changed, "changed": changed, "unchanged": total - inserted}


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


def image_id_for_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def store_image(con: duckdb.DuckDBPyConnection, data: bytes, original_ref: str) -> str:
    """Store image bytes once (by content hash); return the image id. Raises ValueError if unreadable."""
    from PIL import Image
    image_id = image_id_for_bytes(data)
    if con.execute("SELECT 1 FROM images WHERE image_id = ?", [image_id]).fetchone():
        return image_id
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    with Image.open(io.BytesIO(data)) as im:
        width, height, fmt = im.width, im.height, im.format
    con.execute("INSERT INTO images (image_id, missing, width, height, format, n_bytes, original_ref) "
                "VALUES (?, false, ?, ?, ?, ?, ?)", [image_id, width, height, fmt, len(data), original_ref[:500]])
    con.execute("INSERT INTO image_blobs VALUES (?, ?)", [image_id, data])
    return image_id


def record_missing_image(con: duckdb.DuckDBPyConnection, original_ref: str) -> str:
    """Record a referenced-but-absent image; return its id (`missing:<hash of the reference>`)."""
    image_id = "missing:" + hashlib.sha256(original_ref.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    con.execute("INSERT INTO images (image_id, missing, original_ref) VALUES (?, true, ?) "
                "ON CONFLICT DO NOTHING", [image_id, original_ref[:500]])
    return image_id
