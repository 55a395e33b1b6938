"""`workbench schema`: print the store's documented schema (Markdown) or its version."""

from __future__ import annotations

import argparse

from workbench.commands import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the documented store schema (Markdown)",
                       description="Print every table and column of the store with its meaning; "
                                   "with --version, the store's migration level.")
    add_db_option(p)
    p.add_argument("--version", action="store_true", dest="show_version",
                   help="print the applied migrations of the store (migrating it first)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.show_version:
        from workbench.store import connect
        from workbench.store.migrations import applied
        with connect(args.db) as con:
            for v, name, at in applied(con):
                print(f"{v:04d} {name} {at:%Y-%m-%d %H:%M:%S}")
        return 0
    from workbench.store.schema_docs import markdown
    print(markdown())
    return 0
