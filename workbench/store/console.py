"""The read-only SQL console shared by `workbench sql` and the app's SQL page.

Every query runs in a child process of its own (workbench/store/console_worker.py), so no query can
block the app, another browser session or a CLI writer, and its limits are enforced from outside:
- the child copies the store's tables into a private in-memory DuckDB and closes the store before the
  query starts, so writers wait at most for that copy, never for the query;
- memory: the child's address space is capped at `sql_memory_limit` (DuckDB gets 512 MB less for its
  own accounting); a query that needs more is stopped with a message;
- time: the child interrupts the query at `sql_timeout` s and this process kills it 2 s later if it
  has not stopped;
- rows and bytes: at most `sql_row_cap` rows and `sql_result_mb` MB come back (more are cut and
  flagged 'truncated');
- at most `sql_workers` console queries run at once in one process (the app);
- what may run is decided on DuckDB's parse tree (workbench/store/console_rules.py): an allow-list of
  read-only statement kinds, the store's tables and harmless table functions.
Every refusal or failure is one `QueryRefused` message, never a traceback.

`check_filter` applies the same parse-tree rules to a user's WHERE condition (exports, reports).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from workbench.config import setting
from workbench.errors import QueryRefused
from workbench.store.console_rules import check_where, parser, readable_error
from workbench.store.console_worker import memory_message, time_limit_message
from workbench.store.db import resolve_db_path

__all__ = ["QueryResult", "check_filter", "readable_error", "run_query"]

MIN_MEMORY = 768 * 2**20
GRACE_S = 2.0          # after the child's own interrupt, before it is killed
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_SLOTS: threading.BoundedSemaphore | None = None
_SLOTS_LOCK = threading.Lock()


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    truncated: bool
    elapsed_s: float
    row_cap: int
    types: list[str] = field(default_factory=list)
    note: str = ""                     # why the rows were cut, when truncated
    peak_mb: float | None = None       # the query process's peak resident memory
    total_s: float = 0.0               # wall time including process start and loading the tables


class ConsoleRefusal(QueryRefused):
    """A refused or failed console query, with the query process's peak memory (for bench/console.py)."""

    def __init__(self, message: str, peak_mb: float | None = None) -> None:
        super().__init__(message)
        self.peak_mb = peak_mb


@dataclass(frozen=True)
class Limits:
    row_cap: int
    timeout_s: float
    memory_bytes: int
    memory_label: str
    result_bytes: int
    lock_timeout: float

    @classmethod
    def from_settings(cls, row_cap: int | None = None, timeout_s: float | None = None,
                      memory_limit: str | None = None) -> Limits:
        label = memory_limit or setting("sql_memory_limit")
        if parse_bytes(label) < MIN_MEMORY:
            raise QueryRefused(f"the console memory limit {label} is too small: it needs at least "
                               f"{MIN_MEMORY // 2**20} MB (Python and DuckDB themselves take about 300 MB)")
        return cls(int(_number("sql_row_cap")) if row_cap is None else int(row_cap),
                   _number("sql_timeout") if timeout_s is None else float(timeout_s),
                   parse_bytes(label), label, int(_number("sql_result_mb") * 2**20), _number("lock_timeout"))


def _number(name: str) -> float:
    from workbench.config import SETTINGS
    try:
        value = float(setting(name))
    except ValueError:
        raise QueryRefused(f"{SETTINGS[name].env}={setting(name)!r} is not a number") from None
    if not value >= 0:
        raise QueryRefused(f"{SETTINGS[name].env} must be 0 or more")
    return value


def parse_bytes(text: str) -> int:
    """'2GB', '1500MB', '2GiB', '512 mb' -> bytes (powers of 1024, like DuckDB's memory_limit)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(text), re.IGNORECASE)
    if not m:
        raise QueryRefused(f"cannot read the console memory limit {text!r}: write e.g. 2GB or 1500MB")
    return int(float(m.group(1)) * 1024 ** "bkmgt".index(m.group(2).lower() or "b"))


def run_query(sql: str, db: str | os.PathLike | None = None, *, row_cap: int | None = None,
              timeout_s: float | None = None, memory_limit: str | None = None) -> QueryResult:
    """Run one read-only query over the store in a limited child process; QueryRefused on any refusal."""
    path = resolve_db_path(db)
    if not path.is_file():
        raise QueryRefused(f"there is no store at {path}: import a run first (workbench import)")
    limits = Limits.from_settings(row_cap, timeout_s, memory_limit)
    with _slot(limits.timeout_s):
        return _run_child(sql, path, limits)


@contextmanager
def _slot(wait_s: float) -> Iterator[None]:
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = threading.BoundedSemaphore(max(1, int(_number("sql_workers"))))
    if not _SLOTS.acquire(timeout=wait_s):
        raise QueryRefused(f"the console is busy: {setting('sql_workers')} queries are running; "
                           f"try again in a few seconds")
    try:
        yield
    finally:
        _SLOTS.release()


def _child_env(home: str) -> dict[str, str]:
    """A small environment: nothing of the user's (API keys, paths) is visible to the query process."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LANG": "C.UTF-8",
           "MALLOC_ARENA_MAX": "2",  # glibc's per-thread arenas would eat the address-space budget
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(_PACKAGE_ROOT)}
    if "TZ" in os.environ:
        env["TZ"] = os.environ["TZ"]
    return env


class _Child:
    """The query process, reaped here with wait4; its peak memory is its own VmHWM, sampled while it runs."""

    def __init__(self, home: str) -> None:
        try:
            self.proc = subprocess.Popen([sys.executable, "-B", "-s", "-m", "workbench.store.console_worker"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         cwd=home, env=_child_env(home), close_fds=True)
        except OSError as exc:
            raise QueryRefused(f"the console could not start its query process ({exc.strerror})") from None
        self.code: int | None = None
        self.peak_mb: float | None = None
        # VmHWM belongs to the process's own memory since exec; wait4's ru_maxrss may instead carry the
        # parent's RSS from before the exec (a big pytest or app process), so it is only the fallback.
        threading.Thread(target=self._sample, daemon=True, name="console-peak").start()

    def _sample(self) -> None:
        while self.code is None:
            hwm = self._high_water_mb()
            if hwm is None:          # gone (or a zombie: its memory is released)
                return
            self.peak_mb = max(self.peak_mb or 0.0, hwm)
            time.sleep(0.01)

    def _high_water_mb(self) -> float | None:
        """The process's peak resident memory so far (VmHWM), or None once it is gone."""
        try:
            with open(f"/proc/{self.proc.pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            return None
        return None

    def poll(self) -> int | None:
        if self.code is None:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
                if self.peak_mb is None:
                    self.peak_mb = usage.ru_maxrss / 1024
                self.proc.returncode = self.code
        return self.code

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (code := self.poll()) is None:
            if time.monotonic() >= deadline:
                self.kill()
                deadline = float("inf")
            time.sleep(0.005)
        return code

    def kill(self) -> None:
        if self.code is None:
            self.proc.kill()

    def close(self) -> None:
        self.wait(5)
        for stream in (self.proc.stdout, self.proc.stdin):
            if stream is not None and not stream.closed:
                stream.close()


def _run_child(sql: str, path: Path, limits: Limits) -> QueryResult:
    request = {"sql": sql, "db": str(path.resolve()), "parent": os.getpid(), "row_cap": limits.row_cap,
               "timeout_s": limits.timeout_s, "memory_bytes": limits.memory_bytes,
               "memory_label": limits.memory_label, "result_bytes": limits.result_bytes,
               "lock_timeout": limits.lock_timeout}
    home = tempfile.mkdtemp(prefix="workbench-console-")
    start = time.monotonic()
    try:
        child = _Child(home)
    except QueryRefused:
        shutil.rmtree(home, ignore_errors=True)
        raise
    try:
        stdin = child.proc.stdin
        assert stdin is not None   # the child is started with stdin=PIPE
        try:
            stdin.write(json.dumps(request).encode())
            stdin.close()
        except BrokenPipeError:
            pass
        payload = _receive(child, limits, start)
    except QueryRefused as exc:
        child.close()
        raise ConsoleRefusal(str(exc), child.peak_mb) from None
    finally:
        child.close()
        shutil.rmtree(home, ignore_errors=True)
    if not payload.get("ok"):
        raise ConsoleRefusal(payload.get("error") or "the query failed", child.peak_mb)
    return QueryResult(payload["columns"], payload["rows"], payload["truncated"], payload["elapsed_s"],
                       limits.row_cap, payload["types"], payload["note"], child.peak_mb, time.monotonic() - start)


def _receive(child: _Child, limits: Limits, start: float) -> dict:
    assert child.proc.stdout is not None   # the child is started with stdout=PIPE
    fd = child.proc.stdout.fileno()
    # loading: waiting for the store's lock, then copying its tables
    load_s = limits.lock_timeout + limits.timeout_s + 30
    first = _read(fd, 1, start + load_s)
    if first is None:
        child.kill()
        raise QueryRefused(f"the console could not load the store's tables within {load_s:.0f} s")
    if first == b"L":
        first = _read(fd, 1, time.monotonic() + limits.timeout_s + GRACE_S)
        if first is None:
            child.kill()
            raise QueryRefused(time_limit_message(limits.timeout_s))
    if first != b"R":
        raise QueryRefused(_died(child, limits))
    deadline = time.monotonic() + limits.timeout_s + GRACE_S
    head = _read(fd, 8, deadline)
    if head is None or len(head) < 8:
        raise QueryRefused(_died(child, limits, stalled=head is None))
    size = struct.unpack("<Q", head)[0]
    if size > limits.result_bytes + 2**20:
        child.kill()
        raise QueryRefused(f"the result is larger than the console's {limits.result_bytes // 2**20} MB limit")
    data = _read(fd, size, deadline)
    if data is None or len(data) < size:
        raise QueryRefused(_died(child, limits, stalled=data is None))
    payload: dict = _SafeUnpickler(io.BytesIO(data)).load()
    return payload


def _read(fd: int, n: int, deadline: float) -> bytes | None:
    """Up to n bytes before the deadline (fewer at end of stream); None when the deadline passed."""
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            continue
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def _died(child: _Child, limits: Limits, *, stalled: bool = False) -> str:
    """The message for a query process that stopped (or stalled, past its deadline) without an answer."""
    if stalled:
        child.kill()
        return time_limit_message(limits.timeout_s)
    code = child.wait(GRACE_S)  # its output closed: it is ending
    if code < 0 and -code in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
        return memory_message(limits.memory_label)  # an allocation failure DuckDB could not turn into an error
    if code < 0 and -code == signal.SIGKILL:
        return "the query process was killed from outside (by the system's out-of-memory killer or a user)"
    if code < 0 and -code == signal.SIGXCPU:
        return time_limit_message(limits.timeout_s)
    return f"the query process ended unexpectedly (exit status {code})"


class _SafeUnpickler(pickle.Unpickler):
    """Rows come back as plain Python values; no other class may be built from the child's bytes."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("datetime", "date"), ("datetime", "time"), ("datetime", "datetime"), ("datetime", "timedelta"),
        ("datetime", "timezone"), ("decimal", "Decimal"), ("uuid", "UUID")}

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in self.ALLOWED:
            raise QueryRefused(f"the query result holds a value of an unexpected type ({module}.{name})")
        cls: type = super().find_class(module, name)
        return cls


def check_filter(where: str) -> str:
    """Check a user's WHERE condition (export/report `--filter`) with the console's parse-tree rules.

    Returns the condition wrapped in parentheses, ready for `... AND <returned>`; raises QueryRefused
    for anything but one condition over the exported columns and the store's tables (no files,
    settings, catalog functions, second statements or smuggled clauses).
    """
    from workbench.store.schema_docs import TABLES
    con = parser()
    try:
        return check_where(con, where, frozenset(TABLES))
    finally:
        con.close()


