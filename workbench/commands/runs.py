"""`workbench runs`: list the runs in the store with their counts."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from workbench.commands import add_db_option

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list runs with counts",
                       description="List the runs in the store: samples, samples with images, accuracy, failed "
                                   "samples and samples flagged by each detector.")
    add_db_option(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.analysis import registry
    from workbench.store import connect
    from workbench.store.runs import runs_summary_sql
    with connect(args.db) as con:
        df = con.execute(runs_summary_sql()).df()
    detectors = registry.names()
    df["accuracy"] = df["accuracy"].round(3)
    df["updated"] = df["updated_at"].dt.strftime("%Y-%m-%d %H:%M")
    cols = ["run_id", "name", "model", "samples", "with_image", "accuracy", "graded_by", "failed",
            *[f"{d}_samples" for d in detectors], "synthetic", "source", "updated"]
    rows = [tuple(None if v != v else v for v in r) for r in df[cols].itertuples(index=False)]
    cols = [c.removesuffix("_samples") for c in cols]
    if args.format == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
    elif args.format == "json":
        for r in rows:
            print(json.dumps(dict(zip(cols, r)), default=str))
    elif not rows:
        print("no runs yet: `workbench import FILE` or `workbench demo`")
    else:
        shown = [[("" if v is None else str(v)) for v in r] for r in rows]
        keep = cols[:8 + len(detectors)]
        widths = [max(len(c), *(len(r[i]) for r in shown)) for i, c in enumerate(keep)]
        print("  ".join(c.ljust(w) for c, w in zip(keep, widths)))
        for r in shown:
            print("  ".join(v.ljust(w) for v, w in zip(r[:len(keep)], widths)))
    return 0
