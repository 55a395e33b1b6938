"""Errors a user can hit, written for users: what was wrong, where, what to do."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: the CLI prints the message (no traceback) and exits 1; the app shows it."""


class UsageError(WorkbenchError):
    """Bad arguments or options (CLI exit code 2)."""


class InputError(WorkbenchError):
    """Malformed input: the message names the file and line (or sample id) and what is wrong."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 sample_id: str | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        if sample_id is not None:
            where += f"sample {sample_id!r}: "
        super().__init__(where + message)
        self.path, self.line, self.sample_id = path, line, sample_id


class StoreBusy(WorkbenchError):
    """Another process held the store's write lock for longer than the lock timeout."""


class QueryRefused(WorkbenchError):
    """The read-only SQL console refused or failed a query (message is DuckDB's, made readable)."""
