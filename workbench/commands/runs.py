"""`workbench runs`: list the runs in the store with their counts; rename, delete and merge runs."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list runs with counts; rename, delete or merge runs",
                       description="List the runs in the store: samples, samples with images, accuracy, failed "
                                   "samples and samples flagged by each detector. `runs rename OLD NEW`, "
                                   "`runs delete RUN --yes` and `runs merge RUN... --into NAME [--prefix]` "
                                   "clean up runs (everything keyed by the run follows: analysis, tags, tokens).")
    add_db_option(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="action", metavar="{rename,delete,merge}")
    r = actions.add_parser("rename", help="rename a run (its id becomes the new name's slug)")
    r.add_argument("run", metavar="RUN")
    r.add_argument("new_name", metavar="NEW_NAME")
    add_db_option(r)
    r.set_defaults(func=run_admin)
    d = actions.add_parser("delete", help="delete a run and everything keyed by it")
    d.add_argument("run", metavar="RUN")
    d.add_argument("--yes", action="store_true", help="really delete (without it, only say what would go)")
    add_db_option(d)
    d.set_defaults(func=run_admin)
    m = actions.add_parser("merge", help="move the samples of runs into one run")
    m.add_argument("runs", nargs="+", metavar="RUN")
    m.add_argument("--into", required=True, metavar="NAME", help="target run (created when absent)")
    m.add_argument("--prefix", action="store_true",
                   help="prefix every moved sample id with its run id (needed when ids collide)")
    add_db_option(m)
    m.set_defaults(func=run_admin)


def run_admin(args: argparse.Namespace) -> int:
    from workbench.store import connect
    from workbench.store.runs import delete_run, merge_runs, rename_run, resolve_run, sample_count
    with connect(args.db) as con:
        con.begin()
        try:
            if args.action == "rename":
                new = rename_run(con, args.run, args.new_name)
                msg = f"renamed run {args.run!r} to {args.new_name!r} (id {new})"
            elif args.action == "delete":
                run_id = resolve_run(con, args.run)
                if not args.yes:
                    n = sample_count(con, run_id)
                    con.rollback()
                    print(f"would delete run {run_id!r} with {n} samples and their analysis; add --yes")
                    return 1
                counts = delete_run(con, run_id)
                msg = f"deleted run {run_id!r}: {counts.get('samples', 0)} samples"
            else:
                target = merge_runs(con, args.runs, args.into, prefix=args.prefix)
                n = sample_count(con, target)
                msg = f"merged {', '.join(args.runs)} into run {target!r}: {n} samples"
            con.commit()
        except BaseException:
            con.rollback()
            raise
    print(msg)
    return 0


def run(args: argparse.Namespace) -> int:
    from workbench.analysis import registry
    from workbench.store import connect
    from workbench.store.summary import ensure_fresh, runs_summary_sql
    with connect(args.db) as con:
        ensure_fresh(con)
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
