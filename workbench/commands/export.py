"""`workbench export`: findings, steps or samples to CSV / JSONL / Parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export flags, steps or samples to a file",
                       description="Write findings (one row per finding), steps (with their text) or samples (with "
                                   "trace stats and flag counts) to CSV, JSONL or Parquet. --filter is a SQL WHERE "
                                   "condition over the exported columns, run read-only.")
    p.add_argument("what", choices=["flags", "steps", "samples"])
    add_db_option(p)
    p.add_argument("--run", default=None, metavar="NAME", help="run name or id (default: all runs)")
    p.add_argument("--filter", default=None, metavar="SQL_WHERE",
                   help="e.g. \"detector = 'repetition_loop' AND severity = 'runaway'\"")
    p.add_argument("--format", required=True, choices=["csv", "jsonl", "parquet"])
    p.add_argument("--out", required=True, type=Path, metavar="FILE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.exporting import export
    from workbench.store.runs import lookup_run
    run_id = lookup_run(args.db, args.run) if args.run else None
    n = export(args.what, args.db, args.out, args.format, run=run_id, where=args.filter)
    print(f"wrote {n} {args.what} rows to {args.out}")
    return 0
