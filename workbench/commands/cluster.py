"""`workbench cluster`: group failures offline (no API keys) and store the clusters."""

from __future__ import annotations

import argparse
import time

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="cluster the flagged steps or samples",
                       description="Cluster findings by the text of the flagged steps (TF-IDF of words and character "
                                   "n-grams, truncated SVD) plus detector features; HDBSCAN by default, k-means with "
                                   "--method kmeans. Deterministic for a --seed; re-running replaces the result.")
    add_db_option(p)
    p.add_argument("--run", action="append", default=None, metavar="NAME",
                   help="run name or id (repeatable; default all)")
    p.add_argument("--unit", choices=["step", "sample"], default="step")
    p.add_argument("--method", choices=["hdbscan", "kmeans"], default="hdbscan")
    p.add_argument("--k", type=int, default=None, help="clusters for k-means (default: from the data size)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.cluster import run_clustering
    from workbench.store.runs import lookup_runs
    start = time.perf_counter()
    runs = lookup_runs(args.db, args.run)
    res = run_clustering(args.db, runs=runs, unit=args.unit, method=args.method, k=args.k, seed=args.seed)
    print(f"{len(res.units)} flagged {args.unit}s -> {int((res.clusters['cluster_id'] >= 0).sum())} clusters "
          f"({res.cluster_run_id}), {time.perf_counter() - start:.1f} s")
    p = res.params.get("purity_detector_severity")
    if p is not None:
        print(f"  purity against detector:severity {p:.2f} (share of units whose detector:severity is their "
              f"cluster's most common one; 1.00 = the clusters only restate it)")
    for _, c in res.clusters.sort_values("size", ascending=False).iterrows():
        acc = "" if c["accuracy"] is None or c["accuracy"] != c["accuracy"] else f", accuracy {c['accuracy']:.0%}"
        print(f"  [{c['cluster_id']:>2}] {c['size']:>5} units{acc}: {c['label']}")
    return 0
