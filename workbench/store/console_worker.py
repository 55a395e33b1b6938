"""The child process that runs one console query (started by workbench/store/console.py).

Run as `python -m workbench.store.console_worker`; reads one JSON request on stdin, writes frames on
stdout (file descriptor 1 is moved away first, so nothing DuckDB prints can corrupt them):
  b"L"                      the store's tables are loaded and the store is closed again; the query starts
  b"R" + <8-byte length> + pickle of {"ok": True, columns, types, rows, truncated, note, elapsed_s}
                            or {"ok": False, "error": message}

Walls, in order:
1. kernel limits set before any query text is parsed: address space (the console's memory limit; a
   query cannot grow past it whatever DuckDB's own accounting says), CPU seconds (a backstop for an
   orphan), no file may be written (RLIMIT_FSIZE 0), no core dumps, a lower CPU priority (nice 10)
   so writers and the app are not slowed by a busy query; the process dies with its parent;
2. the statement is checked on DuckDB's parse tree (workbench/store/console_rules.py);
3. an in-memory DuckDB gets copies of the store's tables (rows only for the tables the query reads),
   then the store is detached: the query runs where no file, path or setting of the machine exists,
   with file access off and the configuration locked;
4. the query is interrupted at its time limit (the parent kills the process shortly after, in case
   DuckDB does not stop), rows and result bytes are capped.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import os
import pickle
import resource
import signal
import struct
import sys
import threading
import time
import uuid
from decimal import Decimal
from typing import BinaryIO

import duckdb

from workbench.errors import QueryRefused
from workbench.store.console_rules import MAX_DEPTH, Checked, check_statement, readable_error

THREADS = 2
NICE = 10
HEADROOM = 512 * 2**20   # address space kept for Python, DuckDB's code and the result outside DuckDB's limit
ALIAS = "__workbench_store"
_SCALARS = (type(None), bool, int, float, str, bytes, Decimal, uuid.UUID, dt.date, dt.time, dt.timedelta)


def _limit(req: dict) -> None:
    mem = int(req["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(THREADS * (req["timeout_s"] + 5) + 60)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file write fails instead of killing us
    os.nice(NICE)  # the app, imports and analyses get the CPU first
    with contextlib.suppress(OSError, AttributeError):  # no prctl (not Linux): the parent check below still runs
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent
    if os.getppid() != req["parent"]:
        os._exit(3)


def _connect(req: dict) -> duckdb.DuckDBPyConnection:
    duck_mem = max(int(req["memory_bytes"]) - HEADROOM, 128 * 2**20)
    con = duckdb.connect(":memory:", config={
        "threads": THREADS, "memory_limit": f"{duck_mem // 2**20}MB", "temp_directory": "",
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
        "allow_community_extensions": False, "allow_unsigned_extensions": False,
        "allow_persistent_secrets": False, "python_enable_replacements": False})
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET max_expression_depth = {MAX_DEPTH}")
    con.execute("ATTACH ':memory:' AS console (COMPRESS)")
    con.execute("USE console")
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _attach_store(con: duckdb.DuckDBPyConnection, path: str, lock_timeout: float) -> None:
    deadline = time.monotonic() + lock_timeout
    delay = 0.02
    while True:
        try:
            con.execute(f"ATTACH '{path.replace(chr(39), chr(39) * 2)}' AS {ALIAS} (READ_ONLY)")
            return
        except duckdb.Error as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise QueryRefused("the console cannot open the store (is it a workbench store?)") from None
            if time.monotonic() >= deadline:
                raise QueryRefused(f"the store is locked by another process (an import, run or analysis) "
                                   f"and stayed locked for {lock_timeout:.0f} s; try again when it is done") \
                    from None
            time.sleep(delay)
            delay = min(delay * 1.6, 0.5)


def _load(con: duckdb.DuckDBPyConnection, req: dict, checked: Checked) -> None:
    """Copy the store's tables into the console's in-memory database, then detach the store."""
    _attach_store(con, req["db"], float(req["lock_timeout"]))
    try:
        tables = {r[0].lower(): r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' "
            "ORDER BY table_name", [ALIAS]).fetchall()}
        unknown = sorted((checked.data_tables | checked.schema_tables) - tables.keys())
        if unknown:
            raise QueryRefused(f"no table {', '.join(unknown)} in the store: the console reads the store's "
                               f"tables only ({', '.join(tables.values())})")
        for low, name in tables.items():
            q = _quote(name)
            rows = "" if low in checked.data_tables else " LIMIT 0"
            cols = "*"
            if low in checked.data_tables and checked.columns is not None:
                # only the columns the query names (a query over two columns of `samples` does not copy
                # its text); at least one, so the row count is right
                have = [r[0] for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
                    "AND table_name = ? ORDER BY column_index", [ALIAS, name]).fetchall()]
                keep = [c for c in have if c.lower() in checked.columns] or have[:1]
                cols = ", ".join(_quote(c) for c in keep)
            try:
                con.execute(f"CREATE TABLE {q} AS SELECT {cols} FROM {ALIAS}.main.{q}{rows}")
            except duckdb.OutOfMemoryException:
                raise QueryRefused(f"the table {name} does not fit in the console's memory limit "
                                   f"({req['memory_label']})") from None
    finally:
        con.execute(f"DETACH {ALIAS}")


def _safe(v: object) -> object:
    """Values the parent's restricted unpickler accepts: plain types; anything else as text."""
    if isinstance(v, _SCALARS):
        if isinstance(v, (dt.datetime, dt.time)) and v.tzinfo is not None:
            off = v.utcoffset()
            return v.replace(tzinfo=dt.timezone(off)) if off is not None else v.replace(tzinfo=None)
        return v
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, (list, tuple)):
        return [_safe(x) for x in v]
    if isinstance(v, dict):
        return {(k if isinstance(k, (str, int, float, bool, type(None))) else str(k)): _safe(x)
                for k, x in v.items()}
    return str(v)


def _fetch(cur: duckdb.DuckDBPyConnection, row_cap: int, max_bytes: int) -> tuple[list, bool, str]:
    rows: list = []
    size = 0
    while len(rows) <= row_cap:
        chunk = cur.fetchmany(min(100, row_cap + 1 - len(rows)))
        if not chunk:
            return rows, False, ""
        for row in chunk:
            safe = tuple(_safe(v) for v in row)
            size += len(pickle.dumps(safe, protocol=5))
            if size > max_bytes:
                return rows, True, (f"only the first {len(rows):,} rows are shown: the result is larger than "
                                    f"the console's {max_bytes // 2**20} MB limit")
            rows.append(safe)
    return rows[:row_cap], True, f"only the first {row_cap:,} rows are shown (the row cap)"


def _query(con: duckdb.DuckDBPyConnection, req: dict, checked: Checked) -> dict:
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        con.interrupt()

    timer = threading.Timer(float(req["timeout_s"]), stop)
    start = time.perf_counter()
    timer.start()
    try:
        cur = con.execute(checked.sql)
        desc = cur.description or []
        rows, truncated, note = _fetch(cur, int(req["row_cap"]), int(req["result_bytes"]))
    except duckdb.Error as exc:
        if timed_out.is_set():
            raise QueryRefused(time_limit_message(float(req["timeout_s"]))) from None
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise QueryRefused(memory_message(req["memory_label"])) from None
        raise QueryRefused(readable_error(exc)) from None
    finally:
        timer.cancel()
    return {"columns": [d[0] for d in desc], "types": [str(d[1]) for d in desc], "rows": rows,
            "truncated": truncated, "note": note, "elapsed_s": time.perf_counter() - start}


def time_limit_message(timeout_s: float) -> str:
    return (f"the query took longer than the console's {timeout_s:g} s time limit and was stopped; "
            f"add a LIMIT or narrow the WHERE clause")


def memory_message(label: str) -> str:
    return (f"the query needed more memory than the console's {label} limit and was stopped; "
            f"aggregate, add a LIMIT or select fewer or shorter columns")


def _send(out: BinaryIO, payload: dict) -> None:
    try:
        data = pickle.dumps(payload, protocol=5)
    except MemoryError:
        data = pickle.dumps({"ok": False, "error": "the result does not fit in the console's memory limit"})
    out.write(b"R" + struct.pack("<Q", len(data)) + data)
    out.flush()


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # DuckDB and Python prints go nowhere, not into the frames
    req = json.loads(sys.stdin.buffer.read())
    _limit(req)
    try:
        con = _connect(req)
        checked = check_statement(con, req["sql"])
        _load(con, req, checked)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        out.write(b"L")
        out.flush()
        payload = {"ok": True, **_query(con, req, checked)}
    except QueryRefused as exc:
        payload = {"ok": False, "error": str(exc)}
    except MemoryError:
        payload = {"ok": False, "error": memory_message(req["memory_label"])}
    except Exception as exc:  # noqa: BLE001 - every failure becomes one message for the user
        payload = {"ok": False, "error": readable_error(exc)}
    _send(out, payload)
    out.close()
    os._exit(0)  # skip interpreter and DuckDB teardown: the process is done


if __name__ == "__main__":
    main()
