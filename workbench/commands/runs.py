"""`workbench runs`: list the runs in the store with their counts."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from workbench.commands import add_db_option

RUNS_SQL = """
SELECT r.run_id, r.name, r.model, r.n_samples AS samples, r.n_with_image AS with_image,
       CASE WHEN r.n_graded > 0 THEN round(r.n_correct / r.n_graded, 3) END AS accuracy,
       r.n_failed AS failed,
       (SELECT count(DISTINCT f.sample_id) FROM flags f WHERE f.run_id = r.run_id
          AND f.detector = 'language_mixing') AS language_mixing,
       (SELECT count(DISTINCT f.sample_id) FROM flags f WHERE f.run_id = r.run_id
          AND f.detector = 'repetition_loop') AS repetition_loop,
       (SELECT count(DISTINCT f.sample_id) FROM flags f WHERE f.run_id = r.run_id
          AND f.detector = 'grounding_loss') AS grounding_loss,
       r.synthetic, r.source, strftime(r.updated_at, '%Y-%m-%d %H:%M') AS updated
FROM runs r ORDER BY r.created_at, r.run_id
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list runs with counts",
                       description="List the runs in the store: samples, samples with images, accuracy, failed "
                                   "samples and samples flagged by each detector.")
    add_db_option(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.store import connect
    with connect(args.db) as con:
        cur = con.execute(RUNS_SQL)
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
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
        keep = cols[:11]
        widths = [max(len(c), *(len(r[i]) for r in shown)) for i, c in enumerate(keep)]
        print("  ".join(c.ljust(w) for c, w in zip(keep, widths)))
        for r in shown:
            print("  ".join(v.ljust(w) for v, w in zip(r[:11], widths)))
    return 0
