"""The probe's tables (`probe_traces`, `probe_steps`), its model-tier findings, and what it reads.

`workbench probe` writes one sample per transaction (`write_probe_result`); the app reads per-trace
and per-step summaries and the run-level reliance curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from workbench.records import Finding
from workbench.store.findings import replace_model_findings
from workbench.store.grades import grade_sql

TRACE_COLUMNS = ("run_id", "sample_id", "probe_version", "model", "status", "error", "layers", "head_max",
                 "dependence", "n_tokens", "token_source", "prompt_tokens", "n_image_tokens", "grids", "maps_path",
                 "maps_bytes", "early_image_share", "late_image_share", "early_visual_dependence",
                 "late_visual_dependence", "content_hash", "seconds")
STEP_COLUMNS = ("step_index", "token_start", "token_end", "relative_position", "image_attention_share",
                "image_attention_share_max", "image_attention_lift", "layer_shares", "visual_dependence",
                "peak_row", "peak_col")

# ---- reads for the app
PROBE_TRACE = "SELECT * FROM probe_traces WHERE run_id = ? AND sample_id = ?"
PROBE_STEPS = f"""SELECT {', '.join(STEP_COLUMNS)} FROM probe_steps WHERE run_id = ? AND sample_id = ?
                  ORDER BY step_index"""
PROBE_COUNTS = """SELECT run_id, count(*) FILTER (WHERE status = 'ok') AS probed, count(*) AS recorded
                  FROM probe_traces GROUP BY run_id"""
# Mean image reliance per tenth of the trace, split by outcome. Attention is relative to each
# trace's own early level (1 = as much as at the start); visual dependence is in nats/token.
RELIANCE_CURVE = f"""
SELECT ps.run_id, least(floor(ps.relative_position * 10), 9) / 10 + 0.05 AS position,
       CASE WHEN {grade_sql('s', 'ts')} THEN 'correct'
            WHEN NOT {grade_sql('s', 'ts')} THEN 'wrong' ELSE 'ungraded' END AS outcome,
       avg(ps.image_attention_share / nullif(pt.early_image_share, 0)) AS relative_attention,
       avg(ps.visual_dependence) AS visual_dependence,
       count(DISTINCT ps.sample_id) AS traces
FROM probe_steps ps JOIN probe_traces pt USING (run_id, sample_id)
JOIN samples s USING (run_id, sample_id) LEFT JOIN trace_stats ts USING (run_id, sample_id)
WHERE pt.status = 'ok' AND ps.token_end > ps.token_start AND ps.run_id IN (SELECT unnest(?::VARCHAR[]))
GROUP BY ALL ORDER BY ps.run_id, outcome, position"""


def probe_maps_path(con: duckdb.DuckDBPyConnection, run_id: str, sample_id: str) -> str | None:
    """The per-token map file (relative to the probe folder) of a successfully probed sample."""
    row = con.execute("SELECT maps_path FROM probe_traces WHERE run_id = ? AND sample_id = ? AND status = 'ok'",
                      [run_id, sample_id]).fetchone()
    return row[0] if row else None


# ---- what the probe reads
def samples_to_probe(con: duckdb.DuckDBPyConnection, run_id: str, sample_ids: Sequence[str] | None = None,
                     limit: int | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT s.run_id, s.sample_id, s.question, s.response, s.image_ids, s.content_hash, s.status, "
           "r.settings FROM samples s JOIN runs r USING (run_id) WHERE s.run_id = ?"
           " AND (? OR s.sample_id IN (SELECT unnest(?::VARCHAR[]))) ORDER BY s.sample_id LIMIT ?")
    cols = ["run_id", "sample_id", "question", "response", "image_ids", "content_hash", "status", "settings"]
    rows = con.execute(sql, [run_id, not sample_ids, list(sample_ids or []),
                             int(limit) if limit else 2 ** 62]).fetchall()
    return [dict(zip(cols, r)) for r in rows]


def image_bytes(con: duckdb.DuckDBPyConnection, image_id: str) -> bytes | None:
    r = con.execute("SELECT b.data FROM images i LEFT JOIN image_blobs b USING (image_id) WHERE i.image_id = ?",
                    [image_id]).fetchone()
    return None if not r or r[0] is None else bytes(r[0])


def stored_tokens(con: duckdb.DuckDBPyConnection, run_id: str, sample_id: str) -> list[tuple[int, int, int]]:
    """(token_id, char_start, char_end) of a generated trace's stored tokens, in order."""
    return con.execute("SELECT token_id, char_start, char_end FROM tokens WHERE run_id = ? AND sample_id = ? "
                       "ORDER BY token_index", [run_id, sample_id]).fetchall()


def stored_steps(con: duckdb.DuckDBPyConnection, run_id: str, sample_id: str) -> list[dict[str, Any]]:
    rows = con.execute("SELECT step_index, char_start, char_end FROM steps WHERE run_id = ? AND sample_id = ? "
                       "ORDER BY step_index", [run_id, sample_id]).fetchall()
    return [{"step_index": r[0], "char_start": r[1], "char_end": r[2]} for r in rows]


def probed_hashes(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, str]:
    """sample_id -> settings hash of the samples probed successfully (skipped/failed ones are retried)."""
    rows = con.execute("SELECT sample_id, content_hash FROM probe_traces WHERE run_id = ? AND status = 'ok'",
                       [run_id]).fetchall()
    return dict(rows)


# ---- the probe's write
def write_probe_result(con: duckdb.DuckDBPyConnection, row: dict[str, Any], steps: list[dict[str, Any]],
                       findings: Sequence[Finding], *, detector: str, version: str, tiers: Sequence[str]) -> None:
    """Replace one sample's probe rows and its model-tier findings in one transaction."""
    key = [row["run_id"], row["sample_id"]]
    con.begin()
    try:
        con.execute("DELETE FROM probe_traces WHERE run_id = ? AND sample_id = ?", key)
        con.execute("DELETE FROM probe_steps WHERE run_id = ? AND sample_id = ?", key)
        con.execute(f"INSERT INTO probe_traces ({', '.join(TRACE_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(TRACE_COLUMNS))})", [row.get(c) for c in TRACE_COLUMNS])
        if steps:
            con.executemany(f"INSERT INTO probe_steps (run_id, sample_id, {', '.join(STEP_COLUMNS)}) "
                            f"VALUES (?, ?, {', '.join('?' * len(STEP_COLUMNS))})",
                            [key + [s[c] for c in STEP_COLUMNS] for s in steps])
        replace_model_findings(con, row["run_id"], row["sample_id"], detector, version, tiers, findings)
        con.commit()
    except BaseException:
        con.rollback()
        raise

