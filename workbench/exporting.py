"""Exports of findings, steps and samples to CSV / JSONL / Parquet, with an optional SQL filter.

The filter is a WHERE clause over the exported view; it runs on a read-only connection with
external access disabled (the console's lock-down), so it cannot write or read files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workbench.errors import QueryRefused, UsageError
from workbench.store.console import check_filter, locked_connection, readable_error
from workbench.store.exports import export_sql

FORMATS = ("csv", "jsonl", "parquet")


def export_table(what: str, db: str | os.PathLike | None, *, run: str | None = None, where: str | None = None,
                 ) -> pa.Table:
    """The rows of an export view (store/exports.py) as an Arrow table (ordered, filtered)."""
    # the console's parse-tree rules: one condition, the store's tables only, no files
    sql, params = export_sql(what, run=run, where=check_filter(where) if where else None)
    with locked_connection(db) as con:
        try:
            return con.sql(sql, params=params).to_arrow_table()
        except Exception as exc:  # duckdb.Error, with the console's readable message
            raise QueryRefused(readable_error(exc)) from None


def write_table(table: pa.Table, out: Path, fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    if fmt == "parquet":
        pq.write_table(table, tmp)
    elif fmt == "csv":
        pacsv.write_csv(table, tmp)
    else:
        with tmp.open("w", encoding="utf-8") as f:
            for row in table.to_pylist():
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    tmp.replace(out)  # a crash never leaves a half-written export under the real name


def export(what: str, db: str | os.PathLike | None, out: Path, fmt: str, *, run: str | None = None,
           where: str | None = None) -> int:
    table = export_table(what, db, run=run, where=where)
    write_table(table, out, fmt)
    return table.num_rows
