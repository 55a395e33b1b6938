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
    p.add_argument("--run", action="append", default=None, metavar="NAME",
                   help="run name or id (repeatable; default all)")
    p.add_argument("--detectors", default=None, metavar="LIST",
                   help=f"comma-separated detector names (default: {names.replace(', ', ',')})")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per core); with --engine ray, the local instance's CPUs")
    p.add_argument("--force", action="store_true", help="re-analyse everything")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: worker processes on this machine (default); ray: Ray tasks over a Parquet export "
                        "of the pending samples, results written back here (needs the 'ray' extra)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="with --engine ray: the cluster to join, e.g. ray://head:10001 "
                        "(default: $WORKBENCH_RAY_ADDRESS, else a local Ray instance with --workers CPUs)")
    p.add_argument("--export-dir", default=None, metavar="DIR_OR_URI",
                   help="with --engine ray: where the samples' Parquet goes, readable by every node "
                        "(default: $WORKBENCH_RAY_EXPORT_DIR, else a temporary folder; required with a cluster)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.analysis.pipeline import analyze_store
    from workbench.store import resolve_db_path
    start = time.perf_counter()
    detectors = [d.strip() for d in args.detectors.split(",")] if args.detectors else None
    if args.engine == "ray":
        from workbench.analysis.ray_engine import analyze_store_ray
        from workbench.config import setting
        res = analyze_store_ray(resolve_db_path(args.db), runs=args.run, detectors=detectors, force=args.force,
                                address=args.ray_address or setting("ray_address") or None,
                                export_dir=args.export_dir or setting("ray_export_dir") or None,
                                num_cpus=args.workers)
    else:
        if args.ray_address or args.export_dir:
            from workbench.errors import UsageError
            raise UsageError("--ray-address and --export-dir apply to --engine ray only")
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
