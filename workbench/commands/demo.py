"""`workbench demo`: build the synthetic demo run into a store."""

from __future__ import annotations

import argparse

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="load the synthetic demo run (data/demo) into the store",
                       description="Import, analyse and cluster the demo run: traces written by the project and images "
                                   "drawn by code (labelled synthetic), one per failure mode plus hard negatives. "
                                   "Idempotent.")
    add_db_option(p)
    p.add_argument("--probe", action="store_true",
                   help="also probe the demo run with a tiny random Qwen2-VL (needs the model extra): shows the "
                        "probe views; the maps of a random model mean nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.demo import build_demo
    from workbench.store import resolve_db_path
    run_id = build_demo(args.db)
    from workbench.demo import cluster_demo
    cluster_demo(args.db)
    print(f"demo run '{run_id}' is in {resolve_db_path(args.db)}")
    if args.probe:
        from workbench.errors import UsageError
        from workbench.probe.demo import can_probe, probe_demo
        if not can_probe():
            raise UsageError("--probe needs torch and transformers: pip install -e '.[models]'")
        n = probe_demo(args.db)
        print(f"probed {n} demo sample(s) with a tiny random model (views only; the maps mean nothing)")
    return 0
