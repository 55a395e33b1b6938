"""`workbench sql`: read-only SQL over the store (the same locked path as the app's console)."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="run a read-only SQL query over the store",
                       description="Run one read-only query over the store. It cannot read files, write, "
                                   "attach databases, load extensions or change settings; rows are capped "
                                   "and the query is stopped after a time limit.")
    p.add_argument("query", help="one SELECT / WITH / SHOW / DESCRIBE / SUMMARIZE / EXPLAIN statement")
    add_db_option(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--max-rows", type=int, default=None, help="row cap (default: WORKBENCH_SQL_ROW_CAP)")
    p.add_argument("--timeout", type=float, default=None, help="seconds (default: WORKBENCH_SQL_TIMEOUT)")
    p.set_defaults(func=run)


def _cell(v) -> str:
    if v is None:
        return "NULL"
    s = str(v).replace("\n", "\\n")
    return s if len(s) <= 80 else s[:77] + "..."


def run(args: argparse.Namespace) -> int:
    from workbench.store.console import run_query
    res = run_query(args.query, args.db, row_cap=args.max_rows, timeout_s=args.timeout)
    out = sys.stdout
    if args.format == "csv":
        w = csv.writer(out)
        w.writerow(res.columns)
        w.writerows(res.rows)
    elif args.format == "json":
        for row in res.rows:
            out.write(json.dumps(dict(zip(res.columns, row)), default=str, ensure_ascii=False) + "\n")
    else:
        cells = [[_cell(v) for v in row] for row in res.rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(res.columns)]
        out.write(" | ".join(c.ljust(w) for c, w in zip(res.columns, widths)) + "\n")
        out.write("-+-".join("-" * w for w in widths) + "\n")
        for r in cells:
            out.write(" | ".join(c.ljust(w) for c, w in zip(r, widths)) + "\n")
        out.write(f"({len(res.rows)} row{'s' if len(res.rows) != 1 else ''}, {res.elapsed_s * 1000:.0f} ms)\n")
    if res.truncated:
        print(f"truncated: only the first {res.row_cap} rows are shown (--max-rows)", file=sys.stderr)
    return 0
