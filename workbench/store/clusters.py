"""Failure clusters (`cluster_runs`, `clusters`, `cluster_members`): the units to cluster, the
result's write (one transaction, replacing an earlier clustering with the same id), and reads."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from workbench.store.grades import grade_sql

CONTEXT = 120        # characters of context on each side of the flagged span
SPAN_MAX = 360       # longest span kept (a runaway loop: its start)

_UNIT_COMMON = f"""list(DISTINCT f.detector || ':' || f.severity) AS kinds, max(f.score) AS score,
               min(f.char_start) / greatest(length(any_value(s.response)), 1) AS onset,
               max(TRY_CAST(json_extract(f.details, '$.period_chars') AS DOUBLE)) AS period,
               max(TRY_CAST(json_extract(f.details, '$.trace_share') AS DOUBLE)) AS mixing_share,
               any_value(length(s.response)) AS length, any_value({grade_sql()}) AS correct"""
# The unit's text: its flagged span (the first finding's span in the unit, at most SPAN_MAX characters)
# with CONTEXT characters on each side; `span_start`/`span_end` locate the span inside it.
_SPAN = f"""
        SELECT u.*, substring(s.response, u.ctx_start + 1, u.ctx_end - u.ctx_start) AS text,
               u.a - u.ctx_start AS span_start, u.b - u.ctx_start AS span_end
        FROM (SELECT *, greatest(a - {CONTEXT}, 0) AS ctx_start, b + {CONTEXT} AS ctx_end FROM (
              SELECT f.run_id, f.sample_id, {{step}} AS step_index, {_UNIT_COMMON},
                     arg_min(f.char_start, f.char_start) AS a,
                     least(arg_min(f.char_end, f.char_start), arg_min(f.char_start, f.char_start) + {SPAN_MAX}) AS b
              FROM flags f JOIN samples s USING (run_id, sample_id) LEFT JOIN trace_stats t USING (run_id, sample_id)
              WHERE f.run_id IN (SELECT unnest(?::VARCHAR[])) AND f.char_start IS NOT NULL
              GROUP BY f.run_id, f.sample_id{{group}})) u
        JOIN samples s USING (run_id, sample_id)"""
UNITS_SQL = {
    "step": _SPAN.format(step="f.step_index", group=", f.step_index"),
    "sample": _SPAN.format(step="NULL::INTEGER", group=""),
}

CLUSTER_RUNS = """SELECT cluster_run_id, unit, method, runs, n_units, n_clusters, created_at,
                         TRY_CAST(json_extract(params, '$.purity_detector_severity') AS DOUBLE) AS purity
                  FROM cluster_runs ORDER BY created_at DESC, cluster_run_id"""
CLUSTERS = """SELECT cluster_id, label, size, accuracy, failure_mix FROM clusters
              WHERE cluster_run_id = ? ORDER BY size DESC, cluster_id"""
# The map: at most `?` units (the representatives first, then a fixed pseudo-random sample), so a
# clustering of a million flagged steps still draws a few thousand points.
MAP_MEMBERS = """SELECT m.cluster_id, c.label, m.run_id, m.sample_id, m.step_index, m.x, m.y, m.distance,
                        m.representative, m.excerpt, m.span_start, m.span_end
                 FROM cluster_members m JOIN clusters c USING (cluster_run_id, cluster_id)
                 WHERE m.cluster_run_id = ?
                 ORDER BY m.representative DESC, hash(m.run_id, m.sample_id, m.step_index) LIMIT ?"""
# One cluster's representatives (or, when none is marked, its units closest to the centre).
CLUSTER_REPRESENTATIVES = """SELECT m.cluster_id, m.run_id, m.sample_id, m.step_index, m.distance, m.representative,
                                    m.excerpt, m.span_start, m.span_end
                             FROM cluster_members m WHERE m.cluster_run_id = ? AND m.cluster_id = ?
                             ORDER BY m.representative DESC, m.distance, m.run_id, m.sample_id, m.step_index
                             LIMIT 5"""
SIZES_BY_RUN = """SELECT m.cluster_id, any_value(c.label) AS label, m.run_id, count(*) AS units
                  FROM cluster_members m JOIN clusters c USING (cluster_run_id, cluster_id)
                  WHERE m.cluster_run_id = ? GROUP BY m.cluster_id, m.run_id ORDER BY m.cluster_id, m.run_id"""


def units(con: duckdb.DuckDBPyConnection, unit: str, runs: list[str]) -> pd.DataFrame:
    """The flagged units (steps or samples) of `runs` with their text and detector features."""
    return con.execute(UNITS_SQL[unit], [runs]).df()


def write_clustering(con: duckdb.DuckDBPyConnection, cluster_run_id: str, unit: str, method: str,
                     runs: list[str], params: dict[str, Any], members: pd.DataFrame,
                     clusters: pd.DataFrame) -> None:
    """Replace the clustering `cluster_run_id` in one transaction."""
    u, c = members, clusters
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ("cluster_members", "clusters", "cluster_runs"):
            con.execute(f"DELETE FROM {table} WHERE cluster_run_id = ?", [cluster_run_id])
        con.execute("INSERT INTO cluster_runs (cluster_run_id, unit, method, runs, params, n_units, n_clusters) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [cluster_run_id, unit, method, runs, json.dumps(params), len(u), int((c["cluster_id"] >= 0).sum())])
        con.register("_c", pa.table({
            "cluster_id": pa.array(c["cluster_id"].tolist(), pa.int32()), "label": c["label"].tolist(),
            "terms": pa.array(c["terms"].tolist(), pa.list_(pa.string())), "size": c["size"].tolist(),
            "accuracy": pa.array(c["accuracy"].tolist(), pa.float64()),
            "failure_mix": [json.dumps(m) for m in c["failure_mix"]]}))
        con.execute("INSERT INTO clusters BY NAME SELECT ? AS cluster_run_id, * FROM _c", [cluster_run_id])
        con.register("_m", pa.table({
            "cluster_id": pa.array(u["cluster_id"].tolist(), pa.int32()), "run_id": u["run_id"].tolist(),
            "sample_id": u["sample_id"].tolist(),
            "step_index": pa.array([None if pd.isna(v) else int(v) for v in u["step_index"]], pa.int32()),
            "x": u["x"].astype(float).tolist(), "y": u["y"].astype(float).tolist(),
            "distance": u["distance"].astype(float).tolist(), "representative": u["representative"].tolist(),
            "excerpt": [(t or "")[:600] for t in u["text"]],
            "span_start": pa.array([None if pd.isna(v) else int(v) for v in u.get("span_start", [None] * len(u))],
                                   pa.int32()),
            "span_end": pa.array([None if pd.isna(v) else int(v) for v in u.get("span_end", [None] * len(u))],
                                 pa.int32())}))
        con.execute("INSERT INTO cluster_members BY NAME SELECT ? AS cluster_run_id, * FROM _m", [cluster_run_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("_c", "_m"):
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)


def newest_for_run(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    """The newest clustering that covers `run_id`."""
    row = con.execute("SELECT cluster_run_id FROM cluster_runs WHERE list_contains(runs, ?) "
                      "ORDER BY created_at DESC, cluster_run_id LIMIT 1", [run_id]).fetchone()
    return row[0] if row else None


def clusters_of_run(con: duckdb.DuckDBPyConnection, cluster_run_id: str, run_id: str,
                    n_representatives: int = 5) -> list[dict[str, Any]]:
    """A clustering's clusters restricted to one run's members, largest first, with representatives."""
    rows = con.execute(
        "SELECT c.cluster_id, c.label, c.accuracy, c.failure_mix, count(m.sample_id) AS n "
        "FROM clusters c JOIN cluster_members m USING (cluster_run_id, cluster_id) "
        "WHERE c.cluster_run_id = ? AND m.run_id = ? GROUP BY ALL ORDER BY n DESC, c.cluster_id",
        [cluster_run_id, run_id]).fetchall()
    out = []
    for cid, label, acc, mix, n in rows:
        reps = con.execute(
            "SELECT sample_id, step_index, excerpt, span_start, span_end FROM cluster_members "
            "WHERE cluster_run_id = ? AND cluster_id = ? "
            "AND run_id = ? AND representative ORDER BY distance, sample_id, step_index LIMIT ?",
            [cluster_run_id, cid, run_id, n_representatives]).fetchall()
        out.append({"cluster_id": cid, "label": label, "accuracy": acc, "size": n,
                    "failure_mix": json.loads(mix) if isinstance(mix, str) else mix,
                    "representatives": [dict(zip(["sample_id", "step_index", "excerpt", "span_start", "span_end"], r))
                                        for r in reps]})
    return out
