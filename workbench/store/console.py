"""The locked-down, read-only SQL path shared by `workbench sql` and the app's SQL page.

It can read the store and nothing else:
- its own DuckDB instance, opened `read_only=True` with `enable_external_access=false` (no files,
  no COPY/EXPORT, no ATTACH, no http), extension auto-install/auto-load off, then
  `lock_configuration=true` so no query can change a setting back;
- only one statement, and only a query (SELECT / WITH / VALUES / SHOW / DESCRIBE / EXPLAIN /
  SUMMARIZE / PRAGMA of table info);
- a row cap (`sql_row_cap`; more rows are cut and `truncated` is set), a time limit
  (`sql_timeout`; the query is interrupted) and a memory limit.
DuckDB's own error text is kept but made readable (no traceback).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb

from workbench.config import setting
from workbench.errors import QueryRefused
from workbench.store.db import open_with_retry, process_lock, resolve_db_path

_ALLOWED = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.EXPLAIN,
}
_ALLOWED_PRAGMAS = ("table_info", "show_tables", "show_tables_expanded", "database_size",
                    "storage_info", "show")


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    truncated: bool
    elapsed_s: float
    row_cap: int
    types: list[str] = field(default_factory=list)

    def to_pandas(self):
        import pandas as pd
        return pd.DataFrame.from_records(self.rows, columns=self.columns)


def _check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(readable_error(exc)) from None
    if not statements:
        raise QueryRefused("the query is empty: write one SELECT statement")
    if len(statements) > 1:
        raise QueryRefused("only one statement at a time: remove the extra ';'-separated statements")
    st = statements[0]
    if st.type in _ALLOWED:
        return st.query
    if st.type == duckdb.StatementType.PRAGMA:
        low = st.query.strip().lower()
        if any(low.startswith(f"pragma {p}") for p in _ALLOWED_PRAGMAS):
            return st.query
    kind = str(st.type).split(".")[-1]
    raise QueryRefused(
        f"the console is read-only: {kind} statements are not allowed (only SELECT, WITH, SHOW, "
        f"DESCRIBE, SUMMARIZE and EXPLAIN queries over the store)")


def readable_error(exc: Exception) -> str:
    text = str(exc).strip()
    for prefix in ("Parser Error: ", "Binder Error: ", "Catalog Error: ", "Conversion Error: ",
                   "Invalid Input Error: ", "Permission Error: ", "Out of Memory Error: "):
        if text.startswith(prefix):
            kind = prefix.split(" Error")[0].lower()
            return f"{kind} error: {text[len(prefix):]}"
    if "INTERRUPT" in text.upper():
        return "the query was interrupted"
    return text


@contextmanager
def locked_connection(db: str | os.PathLike | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection that cannot touch files, load extensions or change settings."""
    path = resolve_db_path(db)
    if not path.exists():
        raise QueryRefused(f"there is no store at {path}: import a run first (workbench import)")
    config = {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "memory_limit": setting("sql_memory_limit"),
        "threads": 2,
        "max_temp_directory_size": "0B",
    }
    with process_lock():
        con = open_with_retry(path, read_only=True, config=config)
        try:
            con.execute("SET lock_configuration = true")
            yield con
        finally:
            con.close()


def run_query(sql: str, db: str | os.PathLike | None = None, *, row_cap: int | None = None,
              timeout_s: float | None = None) -> QueryResult:
    """Run one read-only query over the store; raise QueryRefused with a readable message."""
    row_cap = int(setting("sql_row_cap")) if row_cap is None else row_cap
    timeout_s = float(setting("sql_timeout")) if timeout_s is None else timeout_s
    with locked_connection(db) as con:
        query = _check_statement(con, sql)
        timed_out = threading.Event()

        def _stop() -> None:
            timed_out.set()
            con.interrupt()

        timer = threading.Timer(timeout_s, _stop)
        start = time.perf_counter()
        timer.start()
        try:
            cur = con.execute(query)
            columns = [d[0] for d in cur.description] if cur.description else []
            types = [str(d[1]) for d in cur.description] if cur.description else []
            rows = cur.fetchmany(row_cap + 1)
        except duckdb.Error as exc:
            if timed_out.is_set():
                raise QueryRefused(
                    f"the query took longer than the {timeout_s:g} s time limit and was "
                    f"stopped; add a LIMIT or narrow the WHERE clause") from None
            raise QueryRefused(readable_error(exc)) from None
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - start
    truncated = len(rows) > row_cap
    return QueryResult(columns, rows[:row_cap], truncated, elapsed, row_cap, types)
