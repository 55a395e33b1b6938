"""What a failure report reads: counts and rates computed in DuckDB over the filtered samples, and the
full rows of only the few samples the report shows (so a report of any run size reads in bounded
memory). Run on `store.exports.export_connection`; the user's filter is already checked."""

from __future__ import annotations

from typing import Any

import duckdb

from workbench.store.exports import view_sql
from workbench.store.rows import one_row


def _scope(where_sql: str) -> str:
    """The filtered samples of one run (parameter: run_id) as a CTE named `v`."""
    return (f"WITH v AS (SELECT v.sample_id, v.n_images, v.correct FROM ({view_sql('samples')}) v "
            f"WHERE v.run_id = ?{' AND ' + where_sql if where_sql else ''})")


def summary(con: duckdb.DuckDBPyConnection, run_id: str, where_sql: str) -> dict[str, Any]:
    """samples, with_image, graded, correct and flagged sample counts of the filtered run."""
    row = one_row(con.execute(
        _scope(where_sql) + """
        SELECT count(*), count(*) FILTER (WHERE n_images > 0), count(correct), count(*) FILTER (WHERE correct),
               (SELECT count(DISTINCT f.sample_id) FROM flags f JOIN v USING (sample_id) WHERE f.run_id = ?)
        FROM v""", [run_id, run_id]))
    return dict(zip(["samples", "with_image", "graded", "correct", "flagged"], row))


def flagged_by_detector(con: duckdb.DuckDBPyConnection, run_id: str, where_sql: str) -> dict[str, tuple[int, int]]:
    """{detector: (samples flagged, samples flagged that have an image)} over the filtered run."""
    rows = con.execute(
        _scope(where_sql) + """
        SELECT f.detector, count(DISTINCT f.sample_id), count(DISTINCT f.sample_id) FILTER (WHERE v.n_images > 0)
        FROM flags f JOIN v USING (sample_id) WHERE f.run_id = ? GROUP BY 1""", [run_id, run_id]).fetchall()
    return {d: (int(a), int(b)) for d, a, b in rows}


def first_flagged(con: duckdb.DuckDBPyConnection, run_id: str, where_sql: str, limit: int) -> list[str]:
    """The first `limit` flagged sample ids (by id) of the filtered run."""
    return [r[0] for r in con.execute(
        _scope(where_sql) + """
        SELECT DISTINCT f.sample_id FROM flags f JOIN v USING (sample_id) WHERE f.run_id = ?
        ORDER BY f.sample_id LIMIT ?""", [run_id, run_id, limit]).fetchall()]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def rows_of(con: duckdb.DuckDBPyConnection, what: str, run_id: str, sample_ids: list[str],
            extra: str = "") -> list[dict[str, Any]]:
    """Export-view rows (`samples`, `flags`, `steps`) of a few samples of one run, in export order."""
    from workbench.store.exports import ORDER
    return _rows(con, f"SELECT * FROM ({view_sql(what)}) v WHERE v.run_id = ? "
                      f"AND v.sample_id IN (SELECT unnest(?::VARCHAR[])){extra} ORDER BY {ORDER[what]}",
                 [run_id, sample_ids])


def report_export_sql(what: str, run_id: str, where_sql: str) -> tuple[str, list]:
    """SQL + params for the data behind a report: the filtered run's flagged samples (`samples`),
    their findings (`flags`) and their flagged steps (`steps`), in export order (streamed by the caller)."""
    from workbench.store.exports import ORDER
    flagged = (f"SELECT v.sample_id FROM ({view_sql('samples')}) v WHERE v.run_id = ?"
               f"{' AND ' + where_sql if where_sql else ''} "
               "AND EXISTS (SELECT 1 FROM flags f WHERE f.run_id = v.run_id AND f.sample_id = v.sample_id)")
    extra = " AND x.n_flags > 0" if what == "steps" else ""
    sql = (f"SELECT * FROM ({view_sql(what)}) x WHERE x.run_id = ? AND x.sample_id IN ({flagged}){extra} "
           f"ORDER BY {ORDER[what]}")
    return sql, [run_id, run_id]
