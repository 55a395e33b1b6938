"""`workbench sql`: read-only SQL over the store (the same locked path as the app's console)."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="run a read-only SQL query over the store",
                       description="Run one read-only query over the store's tables, in a process of its own "
                                   "with a copy of the tables it reads: it cannot read or write files, attach "
                                   "databases, load extensions, see settings or paths, or hold up other "
                                   "processes. Rows and result size are capped; the query is stopped at its "
                                   "time and memory limits.")
    p.add_argument("query", help="one SELECT / WITH / SHOW / DESCRIBE / SUMMARIZE / EXPLAIN statement")
    add_db_option(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--max-rows", type=int, default=None, help="row cap (default: WORKBENCH_SQL_ROW_CAP)")
    p.add_argument("--timeout", type=float, default=None, help="seconds (default: WORKBENCH_SQL_TIMEOUT)")
    p.add_argument("--memory-limit", default=None, help="e.g. 1GB (default: WORKBENCH_SQL_MEMORY_LIMIT)")
    p.set_defaults(func=run)


def _cell(v: object) -> str:
    if v is None:
        return "NULL"
    s = str(v).replace("\n", "\\n")
    return s if len(s) <= 80 else s[:77] + "..."


def run(args: argparse.Namespace) -> int:
    from workbench.errors import UsageError
    from workbench.store.console import run_query
    if args.max_rows is not None and args.max_rows < 0:
        raise UsageError("--max-rows must be 0 or more")
    if args.timeout is not None and not 0 < args.timeout <= 3600:
        raise UsageError("--timeout must be between 0 and 3600 seconds")
    if args.memory_limit is not None:
        from workbench.errors import QueryRefused
        from workbench.store.console import parse_bytes
        try:
            parse_bytes(args.memory_limit)
        except QueryRefused as exc:
            raise UsageError(f"--memory-limit: {exc}") from None
    res = run_query(args.query, args.db, row_cap=args.max_rows, timeout_s=args.timeout,
                    memory_limit=args.memory_limit)
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
        print(f"truncated: {res.note}", file=sys.stderr)
    return 0
