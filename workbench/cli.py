"""The `workbench` command.

Each subcommand lives in its own module under workbench/commands/ and exposes
`register(subparsers)`; modules are discovered here, so adding a command touches one file.
Handlers import their heavy dependencies lazily so `workbench --help` stays instant.
Exit codes: 0 ok, 1 failure (a clear message, no traceback), 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from workbench import __version__
from workbench.errors import UsageError, WorkbenchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="QVQ trace workbench: import, run, analyse and explore visual reasoning traces.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import workbench.commands as pkg
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"workbench.commands.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
        return int(result or 0)
    except UsageError as exc:
        print(f"workbench {args.command}: {exc}", file=sys.stderr)
        return 2
    except WorkbenchError as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"workbench {args.command}: interrupted; finished work is kept", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
