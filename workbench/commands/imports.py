"""`workbench import`: load cached runs (JSONL/JSON/Parquet/CSV/TSV/XLSX, VLMEvalKit, lmms-eval)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="import cached runs from result files",
        description="Import result files into the store in one transaction (a malformed row fails the whole "
                    "import with file:line and leaves the store unchanged). Re-importing is idempotent: "
                    "identical samples are kept, changed ones updated. One run per file (named after the "
                    "file) unless --run is given.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_db_option(p)
    p.add_argument("--run", default=None, metavar="NAME", help="put every file into this run")
    p.add_argument("--image-root", type=Path, default=None, metavar="DIR",
                   help="folder that relative image paths are resolved against (default: the file's folder)")
    p.add_argument("--map", action="append", default=None, metavar="FIELD=SOURCE",
                   help="read a column from another source field, e.g. --map response=prediction (repeatable)")
    p.add_argument("--format", default="auto",
                   choices=["auto", "jsonl", "json", "parquet", "csv", "tsv", "xlsx", "qvq-dev", "vlmevalkit",
                            "lmms-eval"])
    p.add_argument("--strict", action="store_true", help="fail when a referenced image file is missing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.ingest import import_paths, parse_mapping, summary_text
    start = time.perf_counter()
    summary = import_paths(args.paths, args.db, run=args.run, image_root=args.image_root,
                           mapping=parse_mapping(args.map), fmt=args.format, strict=args.strict)
    for w in summary.warnings[:20]:
        print(f"warning: {w}", file=sys.stderr)
    if len(summary.warnings) > 20:
        print(f"warning: ... and {len(summary.warnings) - 20} more", file=sys.stderr)
    print(summary_text(summary))
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0
