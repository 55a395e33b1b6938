"""Partitioned Parquet out of the store: its tables (`workbench export-parquet`) and the Ray engine's input.

Layout (Hive partitioning, the one DuckDB, Spark, Trino and pyarrow.dataset read directly):
`DIR/<table>/run_id=<run id>/data_0.parquet` for every table with a `run_id` column;
`DIR/<table>/data_0.parquet` for the few without one (images, clusters). As in a Spark write, the
partition column is in the directory name, not in the files: readers get it back by Hive
partitioning (and should type it as a string: a run id such as `2024` is not a number).
JSON columns are written as plain strings (every Parquet reader knows UTF-8 strings; not all
know the JSON annotation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from workbench.store.findings import ANALYSIS_FIELDS
from workbench.store.rows import one_row

PARTITION = "run_id"
# Not data: the migration ledger describes the store file, not its contents.
INTERNAL = frozenset({"schema_migrations"})
# Image bytes: large and rarely wanted in an analytics export (opt in with --image-blobs).
BLOBS = "image_blobs"
# Tables without a primary key, written in this order all the same (their keys went in 0014 and 0015).
ROW_ORDER = {"steps": ("run_id", "sample_id", "step_index"), "trace_stats": ("run_id", "sample_id"),
             "analysis_status": ("run_id", "sample_id", "detector")}


@dataclass(frozen=True)
class TableInfo:
    """One store table as the export sees it."""
    name: str
    columns: tuple[tuple[str, str], ...]     # (column, DuckDB type)
    key: tuple[str, ...]                      # primary key, or ROW_ORDER (row order within a file)

    @property
    def partitioned(self) -> bool:
        return any(c == PARTITION for c, _ in self.columns)


def store_tables(con: duckdb.DuckDBPyConnection) -> list[TableInfo]:
    """Every data table of the store (not the migration ledger), in name order."""
    cols = con.execute("""SELECT table_name, column_name, data_type FROM duckdb_columns()
                          WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
                          ORDER BY table_name, column_index""").fetchall()
    keys = dict(con.execute("""SELECT table_name, constraint_column_names FROM duckdb_constraints()
                               WHERE database_name = current_database() AND schema_name = 'main'
                                 AND constraint_type = 'PRIMARY KEY'""").fetchall())
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in cols:
        if table not in INTERNAL and table not in views:
            by_table.setdefault(table, []).append((column, dtype))
    return [TableInfo(t, tuple(c), tuple(keys.get(t) or ROW_ORDER.get(t) or ())) for t, c in sorted(by_table.items())]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _select_list(columns: tuple[tuple[str, str], ...], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{_quote(c)}::VARCHAR AS {_quote(c)}" if t == "JSON" else f"{prefix}{_quote(c)}"
                     for c, t in columns)


def copy_table(con: duckdb.DuckDBPyConnection, table: TableInfo, dest: Path, runs: list[str] | None) -> int:
    """Write one table under `dest` (a directory that does not exist yet): Hive-partitioned by run_id
    when it has that column (only the given runs' rows, or all), else one file. Returns the row count."""
    order = f" ORDER BY {', '.join(map(_quote, table.key))}" if table.key else ""
    dest.parent.mkdir(parents=True, exist_ok=True)   # DuckDB creates one level only
    if table.partitioned:
        where = "WHERE ? OR run_id IN (SELECT unnest(?::VARCHAR[]))"
        params: list[Any] = [runs is None, runs or []]
        n = int(one_row(con.execute(f"SELECT count(*) FROM {_quote(table.name)} {where}", params))[0])
        if n:
            con.execute(f"COPY (SELECT {_select_list(table.columns)} FROM {_quote(table.name)} {where}{order}) "
                        f"TO {_literal(dest)} (FORMAT PARQUET, PARTITION_BY ({PARTITION}))", params)
        return n
    n = int(one_row(con.execute(f"SELECT count(*) FROM {_quote(table.name)}"))[0])
    if n:
        dest.mkdir()
        con.execute(f"COPY (SELECT {_select_list(table.columns)} FROM {_quote(table.name)}{order}) "
                    f"TO {_literal(dest / 'data_0.parquet')} (FORMAT PARQUET)")
    return n


# ---- the Ray engine's input: the pending samples, by run and chunk
INPUT_COLUMNS = (*ANALYSIS_FIELDS, "content_hash", "todo")


def export_pending_samples(con: duckdb.DuckDBPyConnection, todo: list[dict[str, Any]], chunk_size: int,
                           dest: Path) -> None:
    """Write the samples in `todo` (pipeline's pending list, rowid order) with their analysis fields,
    content hash and to-do detectors under `dest/run_id=<id>/chunk=<n>/`: one file per (run, chunk of
    `chunk_size` pending samples), the unit of work of one Ray task. The partition columns are also
    kept inside the files, so a task reads one file on its own."""
    keys = pa.table({"run_id": [k["run_id"] for k in todo], "sample_id": [k["sample_id"] for k in todo],
                     "todo": pa.array([k["todo"] for k in todo], pa.list_(pa.string())),
                     "chunk": [i // chunk_size for i in range(len(todo))]})
    fields = ", ".join(f"s.{c}::VARCHAR AS {c}" if c == "metadata" else f"s.{c}" for c in ANALYSIS_FIELDS)
    con.register("_todo", keys)
    try:
        con.execute(f"""COPY (SELECT {fields}, s.content_hash, t.todo, t.chunk
                              FROM samples s JOIN _todo t USING (run_id, sample_id) ORDER BY s.rowid)
                        TO {_literal(dest)} (FORMAT PARQUET, PARTITION_BY (run_id, chunk),
                                             WRITE_PARTITION_COLUMNS true)""")
    finally:
        con.unregister("_todo")


def current_hashes(con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The store's content hash now of each (run_id, sample_id) that still exists."""
    con.register("_keys", pa.table({"run_id": [k[0] for k in keys], "sample_id": [k[1] for k in keys]}))
    try:
        rows = con.execute("SELECT s.run_id, s.sample_id, s.content_hash FROM samples s "
                           "JOIN _keys k USING (run_id, sample_id)").fetchall()
    finally:
        con.unregister("_keys")
    return {(r, s): h for r, s, h in rows}
