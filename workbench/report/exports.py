"""The data behind a report (flagged samples, their flags and flagged steps) with the same filter, via
workbench/exporting.py (same read-only path), so a report's contents can be re-analysed elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from workbench.exporting import export_table, write_table
from workbench.report.data import load_report


def export_report_data(db: str | os.PathLike | None, run: str, out_dir: Path, fmt: str, *,
                       where: str | None = None) -> list[tuple[Path, int]]:
    run_id = load_report(db, run, where=where, max_failures=0).run["run_id"]
    samples = export_table("samples", db, run=run_id, where=where)
    flags = export_table("flags", db, run=run_id)
    flags = flags.filter(pc.is_in(flags["sample_id"], samples["sample_id"]))
    flagged = pa.array(sorted(set(flags["sample_id"].to_pylist())), pa.string())
    steps = export_table("steps", db, run=run_id, where="n_flags > 0")
    tables = {"samples": samples.filter(pc.is_in(samples["sample_id"], flagged)), "flags": flags,
              "steps": steps.filter(pc.is_in(steps["sample_id"], flagged))}
    written = []
    for name, table in tables.items():
        path = Path(out_dir) / f"{name}.{fmt}"
        write_table(table, path, fmt)
        written.append((path, table.num_rows))
    return written
