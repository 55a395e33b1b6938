"""Typed access to query results whose shape the SQL guarantees."""

from __future__ import annotations

from typing import Any

import duckdb


def one_row(cur: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The row of a statement that always yields exactly one (an aggregate without GROUP BY, or the
    row count DuckDB returns for INSERT/DELETE). A missing row is a bug, not an input error."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("a query that always returns one row returned none")
    return row
