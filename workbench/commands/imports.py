"""`workbench import`: load result files (lmms-eval, VLMEvalKit, MMMU, MathVista, MATH-V, Qwen-Math, generic)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    from workbench.ingest import FORMAT_CHOICES
    p = sub.add_parser(
        "import", help="import result files (predictions, judged files, summaries)",
        description="Import result files into the store, streamed in batches, all or nothing (a malformed row "
                    "fails the whole import with file:line and leaves the store unchanged). Batches are staged "
                    "and committed one by one (memory bounded by a batch), then published in one transaction; "
                    "an import that was killed resumes when the same command is run again. The format is "
                    "recognised from the file (lmms-eval, VLMEvalKit, MMMU/MMMU-Pro, MathVista, MATH-V, "
                    "Qwen-Math dumps, generic JSONL/JSON/Parquet/CSV/TSV/XLSX); files beside it (lmms-eval "
                    "results, VLMEvalKit judged files and score summaries) are read with it. Re-importing is "
                    "idempotent. One run per file (model/benchmark, or the file name) unless --run is given; "
                    "a row that would replace one from another source is refused unless --update.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_db_option(p)
    p.add_argument("--run", default=None, metavar="NAME",
                   help="put every file into this run (sample ids then carry the task: mme/123)")
    p.add_argument("--image-root", type=Path, default=None, metavar="DIR",
                   help="folder that relative image paths are resolved against (default: the file's folder)")
    p.add_argument("--map", action="append", default=None, metavar="FIELD=SOURCE",
                   help="read a column from another source field or path, e.g. --map response=prediction, "
                        "--map correct=score[0] (repeatable)")
    p.add_argument("--format", default="auto", choices=list(FORMAT_CHOICES),
                   help="container or source format (default: recognised from the file)")
    p.add_argument("--update", action="store_true",
                   help="let rows from these files replace rows that came from another source")
    p.add_argument("--dry-run", action="store_true",
                   help="print the detected format, field mapping, counts and first record; write nothing")
    p.add_argument("--strict", action="store_true", help="fail when a referenced image file is missing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.ingest import import_paths, parse_mapping, preview_text, summary_text
    start = time.perf_counter()
    summary = import_paths(args.paths, args.db, run=args.run, image_root=args.image_root,
                           mapping=parse_mapping(args.map), fmt=args.format, strict=args.strict,
                           update=args.update, dry_run=args.dry_run)
    for w in summary.warnings[:20]:
        print(f"warning: {w}", file=sys.stderr)
    if len(summary.warnings) > 20:
        print(f"warning: ... and {len(summary.warnings) - 20} more", file=sys.stderr)
    if args.dry_run:
        print(preview_text(summary))
    print(summary_text(summary))
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0
