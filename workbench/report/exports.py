"""The data behind a report (the filtered run's flagged samples, their findings and flagged steps),
streamed to files with the same filter and the same read path as `workbench export`, so a report's
contents can be re-analysed elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from workbench.exporting import BATCH_ROWS, query_error, write_batches
from workbench.store import reports as store_reports
from workbench.store.exports import checked_filter, export_connection
from workbench.store.runs import resolve_run


def export_report_data(db: str | os.PathLike | None, run: str, out_dir: Path, fmt: str, *,
                       where: str | None = None) -> list[tuple[Path, int]]:
    where_sql = checked_filter(where) if where else ""
    written = []
    with export_connection(db) as con:
        run_id = resolve_run(con, run)
        for name in ("samples", "flags", "steps"):
            sql, params = store_reports.report_export_sql(name, run_id, where_sql)
            try:
                reader = con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
            except duckdb.Error as exc:
                raise query_error(exc) from None
            path = Path(out_dir) / f"{name}.{fmt}"
            written.append((path, write_batches(reader, reader.schema, path, fmt)))
    return written
