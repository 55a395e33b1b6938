"""`workbench export-parquet`: the store's tables as Hive-partitioned Parquet (by run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands import add_db_option, add_run_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-parquet", help="export the store's tables as Parquet partitioned by run",
                       description="Write every table of the store under DIR as Hive-partitioned Parquet: "
                                   "DIR/<table>/run_id=<id>/data_0.parquet (tables without a run_id, such as images "
                                   "and clusters: DIR/<table>/data_0.parquet), with a manifest "
                                   "(_workbench_export.json). DuckDB, Spark, Trino and pyarrow.dataset read it "
                                   "directly. With --run only those runs' partitions are replaced; image bytes "
                                   "(image_blobs) only with --image-blobs.")
    p.add_argument("out", type=Path, metavar="DIR", help="output directory (new, empty, or an earlier export)")
    add_db_option(p)
    add_run_option(p, multiple=True)
    p.add_argument("--tables", default=None, metavar="LIST",
                   help="comma-separated tables (default: all but image_blobs)")
    p.add_argument("--image-blobs", action="store_true", help="also export image bytes (the image_blobs table)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.parquet_export import export_parquet
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    res = export_parquet(args.db, args.out, runs=args.run, tables=tables, image_blobs=args.image_blobs)
    scope = f"runs {', '.join(res.runs)}" if res.runs else "all runs"
    print(f"wrote {sum(res.rows.values())} rows in {len(res.rows)} tables ({scope}) to {res.out}")
    for name, n in res.rows.items():
        print(f"  {name:18} {n:>10}")
    return 0
