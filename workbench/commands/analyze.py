"""`workbench analyze`: steps, trace stats and detectors over the store."""

from __future__ import annotations

import argparse
import sys
import time

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    from workbench.analysis import registry
    names = ", ".join(registry.default_names())
    p = sub.add_parser("analyze", help="segment traces into steps and run the detectors",
                       description="Segment every stored response into steps, extract answers and run the detectors "
                                   f"({names}). Idempotent and resumable: "
                                   "only samples that are new, changed, or analysed by an older detector version are "
                                   "processed (--force redoes all); old results of a detector are replaced.")
    add_db_option(p)
    p.add_argument("--run", action="append", default=None, metavar="NAME", help="run name or id (repeatable; default all)")
    p.add_argument("--detectors", default=None, metavar="LIST",
                   help=f"comma-separated detector names (default: {names.replace(', ', ',')})")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--force", action="store_true", help="re-analyse everything")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.analysis.pipeline import analyze_store
    from workbench.store import resolve_db_path
    start = time.perf_counter()
    detectors = [d.strip() for d in args.detectors.split(",")] if args.detectors else None
    res = analyze_store(resolve_db_path(args.db), runs=args.run, detectors=detectors, workers=args.workers,
                        force=args.force)
    done = ", ".join(f"{k}: {v}" for k, v in sorted(res.analysed.items())) or "nothing to do"
    print(f"analysed ({done}); {res.skipped_up_to_date} samples already up to date; "
          f"{time.perf_counter() - start:.1f} s")
    if res.errors:
        print(f"{len(res.errors)} sample/detector pairs failed and will be retried next time:", file=sys.stderr)
        for e in res.errors[:20]:
            print(f"  {e}", file=sys.stderr)
        return 1
    return 0
