"""`workbench report`: a failure report of one run as self-contained HTML or Markdown."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a failure report (HTML or Markdown)",
                       description="Run summary, flag rates, clusters and the flagged samples with their offending "
                                   "steps highlighted. HTML is one self-contained file (opens offline); Markdown "
                                   "writes its images to the folder FILESTEM_files next to it.")
    add_db_option(p)
    p.add_argument("--run", required=True, metavar="NAME", help="run name or id")
    p.add_argument("--filter", default=None, metavar="SQL_WHERE",
                   help="WHERE condition over the samples export view (read-only), e.g. \"subset = 'geometry'\"")
    p.add_argument("--format", choices=["html", "md"], default="html")
    p.add_argument("--out", required=True, type=Path, metavar="FILE")
    p.add_argument("--max-failures", type=int, default=20, help="flagged samples shown in full (default 20)")
    p.add_argument("--data-out", type=Path, default=None, metavar="DIR",
                   help="also export the report's flagged samples and steps (flags.*, steps.*, samples.*)")
    p.add_argument("--data-format", choices=["parquet", "jsonl", "csv"], default="parquet")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.report import write_report
    out = write_report(args.db, args.run, args.out, args.format, where=args.filter, max_failures=args.max_failures)
    print(f"wrote {out}")
    if args.data_out:
        from workbench.report.exports import export_report_data
        for path, n in export_report_data(args.db, args.run, args.data_out, args.data_format, where=args.filter):
            print(f"wrote {path} ({n} rows)")
    return 0
