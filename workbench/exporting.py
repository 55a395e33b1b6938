"""Exports of findings, steps and samples to CSV / JSONL / Parquet, with an optional SQL filter.

Streaming: rows go from DuckDB to the file in Arrow record batches, so memory stays bounded
whatever the run's size (the sort spills to disk within `export_memory_limit`). Reads go through
`store.exports.export_connection` (read-only, no file access, settings locked); a user's filter is
checked by `store.exports.checked_filter` (the console's parse-tree rules) before it runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workbench.errors import QueryRefused, UsageError
from workbench.store.console import readable_error
from workbench.store.exports import export_connection, export_sql, out_of_memory_message

FORMATS = ("csv", "jsonl", "parquet")
BATCH_ROWS = 20_000


def query_error(exc: Exception) -> QueryRefused:
    """DuckDB's error as one message a user can act on."""
    return QueryRefused(out_of_memory_message(exc) or readable_error(exc))


@contextmanager
def export_reader(what: str, db: str | os.PathLike | None, *, run: str | None = None, where: str | None = None,
                  batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatchReader]:
    """The rows of an export view (store/exports.py) as a stream of Arrow record batches (ordered, filtered)."""
    sql, params = export_sql(what, run=run, where=where)   # export_sql checks the filter (console rules)
    with export_connection(db) as con:
        try:
            yield con.sql(sql, params=params).to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            raise query_error(exc) from None


def export_table(what: str, db: str | os.PathLike | None, *, run: str | None = None, where: str | None = None,
                 ) -> pa.Table:
    """A whole (small) export as one Arrow table; big exports should stream with `export_reader`."""
    with export_reader(what, db, run=run, where=where) as reader:
        try:
            return reader.read_all()
        except (duckdb.Error, pa.ArrowException) as exc:
            raise query_error(exc) from None


class _Writer:
    """One output file written batch by batch (to `<out>.partial`, renamed when complete)."""

    def __init__(self, tmp: Path, fmt: str, schema: pa.Schema) -> None:
        self.fmt, self.schema = fmt, schema
        if fmt == "parquet":
            self.w = pq.ParquetWriter(tmp, schema)
        elif fmt == "csv":
            self.w = pacsv.CSVWriter(tmp, schema)
        else:
            self.w = tmp.open("w", encoding="utf-8")

    def write(self, batch: pa.RecordBatch) -> None:
        if self.fmt == "jsonl":
            self.w.write("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in batch.to_pylist()))
        else:
            self.w.write_batch(batch)

    def close(self) -> None:
        self.w.close()


def write_batches(batches: Iterable[pa.RecordBatch], schema: pa.Schema, out: Path, fmt: str) -> int:
    """Write record batches to `out` in `fmt`; a crash never leaves a half-written file under the real name."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    writer = _Writer(tmp, fmt, schema)
    n = 0
    try:
        for batch in batches:
            writer.write(batch)
            n += batch.num_rows
    except (duckdb.Error, pa.ArrowException) as exc:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise query_error(exc) from None
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    tmp.replace(out)
    return n


def write_table(table: pa.Table, out: Path, fmt: str) -> None:
    write_batches(table.to_batches(BATCH_ROWS), table.schema, out, fmt)


def export(what: str, db: str | os.PathLike | None, out: Path, fmt: str, *, run: str | None = None,
           where: str | None = None) -> int:
    """Stream one export view to `out`; the number of rows written."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    with export_reader(what, db, run=run, where=where) as reader:
        return write_batches(reader, reader.schema, out, fmt)
