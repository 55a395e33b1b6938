"""`workbench export-parquet`: the store's tables as a Hive-partitioned Parquet dataset (by run).

DIR/<table>/run_id=<id>/data_0.parquet (tables with a run_id column; see store/parquet.py for the
layout and types), DIR/<table>/data_0.parquet (images, clusters), and DIR/_workbench_export.json
(a manifest: tables, row counts, runs, schema version, when). DuckDB, Spark, Trino and
pyarrow.dataset read the folder directly (README, "Partitioned Parquet and Ray").

Nothing is lost on a crash: tables are written into a staging folder inside DIR and moved into
place only when every table is written (a rename on the same filesystem). With --run only those
runs' partitions are replaced, so a growing study is exported run by run; without it every table
is replaced whole (a run deleted from the store disappears from the export too).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from workbench.errors import UsageError

MANIFEST = "_workbench_export.json"


@dataclass
class ParquetExport:
    """What one export wrote: rows per table (for the runs exported), and the runs (None: all)."""
    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    runs: list[str] | None = None
    skipped: list[str] = field(default_factory=list)


def _check_destination(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file; export-parquet writes a directory")
    if out.is_dir() and any(p.name != MANIFEST and not p.name.startswith(".staging-") for p in out.iterdir()) \
            and not (out / MANIFEST).exists():
        raise UsageError(f"{out} is not empty and holds no workbench export ({MANIFEST}); "
                         "choose a new or empty directory (an earlier export there is updated in place)")


def export_parquet(db: str | os.PathLike | None, out: str | os.PathLike, *, runs: list[str] | None = None,
                   tables: list[str] | None = None, image_blobs: bool = False) -> ParquetExport:
    """Export the store's tables under `out` (see the module docstring). `tables` limits the export to
    those tables; image bytes (`image_blobs`) only when asked."""
    from workbench.store import connect
    from workbench.store.migrations import schema_version
    from workbench.store.parquet import BLOBS, store_tables
    from workbench.store.runs import resolve_runs
    out = Path(out)
    _check_destination(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".staging-{uuid.uuid4().hex[:12]}"
    result = ParquetExport(out)
    try:
        with connect(db) as con:   # one connection: a consistent view of the store for every table
            result.runs = resolve_runs(con, runs)
            infos = store_tables(con)
            known = {t.name for t in infos}
            unknown = sorted(set(tables or ()) - known)
            if unknown:
                raise UsageError(f"no table {', '.join(unknown)} in the store (tables: {', '.join(sorted(known))})")
            chosen = [t for t in infos if (t.name in tables if tables else (t.name != BLOBS or image_blobs))]
            result.skipped = [t.name for t in infos if t not in chosen]
            from workbench.store.parquet import copy_table
            for t in chosen:
                result.rows[t.name] = copy_table(con, t, staging / t.name, result.runs)
            version = schema_version(con)
        for t in chosen:
            _move_into_place(staging / t.name, out / t.name, t.partitioned, result.runs)
        manifest = {"format": "hive-partitioned parquet", "partition_column": "run_id", "schema_version": version,
                    "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "runs": result.runs or "all",
                    "tables": {t.name: {"partitioned": t.partitioned, "rows": result.rows[t.name],
                                        "columns": [c for c, _ in t.columns]} for t in chosen}}
        old = json.loads((out / MANIFEST).read_text()) if (out / MANIFEST).exists() else {}
        if result.runs is not None and old.get("tables"):
            # A partial export: tables not written now keep their earlier entry; counts are of this export.
            manifest["tables"] = {**old["tables"], **manifest["tables"]}
        tmp = out / (MANIFEST + ".partial")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        tmp.replace(out / MANIFEST)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _move_into_place(src: Path, dst: Path, partitioned: bool, runs: list[str] | None) -> None:
    """Replace `dst` by `src` (a table written in staging), or only the given runs' partitions."""
    if partitioned and runs is not None:
        dst.mkdir(parents=True, exist_ok=True)
        for run in runs:
            part, new = dst / f"run_id={run}", src / f"run_id={run}"
            if part.exists():
                shutil.rmtree(part)
            if new.exists():
                new.rename(part)
        return
    if dst.exists():
        old = dst.with_name(f".old-{dst.name}-{uuid.uuid4().hex[:8]}")
        dst.rename(old)            # the old table stays whole until the new one is in place
        if src.exists():
            src.rename(dst)
        shutil.rmtree(old)
    elif src.exists():
        src.rename(dst)
