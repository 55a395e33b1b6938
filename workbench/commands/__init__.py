"""CLI subcommands: one module each, with `register(subparsers)`. Shared option helpers here."""

from __future__ import annotations

import argparse

from workbench.config import SETTINGS


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, metavar="DB",
                        help=f"DuckDB store file (default: ${SETTINGS['db'].env} or data/workbench.duckdb)")


def add_run_option(parser: argparse.ArgumentParser, *, multiple: bool = False, required: bool = False) -> None:
    if multiple:
        parser.add_argument("--run", action="append", default=None, metavar="NAME", required=required,
                            help="run name or id (repeatable; default: all runs)")
    else:
        parser.add_argument("--run", default=None, metavar="NAME", required=required,
                            help="run name or id" + ("" if required else " (default: all runs)"))
