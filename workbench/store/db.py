"""One connection factory for the store.

Concurrency design (DuckDB allows one process to hold a file read-write, and then refuses every
other process, even read-only ones):

- Nobody keeps the store open. Every process (app, `workbench import`, `run`, `analyze`) opens
  the file for one unit of work and closes it straight after, so the lock is held for
  milliseconds to a few seconds.
- Opening retries with backoff while another process holds the lock, up to `lock_timeout`
  seconds, then raises `StoreBusy` with a readable message. Nothing fails just because the app is
  open while an import runs, or the other way round.
- Long jobs commit in bounded batches (a model run commits per sample, analysis per chunk), and
  release the lock between batches so the app gets its turn.
- Inside one process, DuckDB refuses two connections to one file with different configurations
  (the locked SQL console uses a read-only, no-external-access one), so opens are serialised by a
  process-wide lock.
- The app caches query results keyed by `store_fingerprint()` (size and mtime of the file and its
  WAL), so new data shows after a refresh and nothing stale is served.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from workbench.config import default_db_path, setting
from workbench.errors import StoreBusy, WorkbenchError

_PROCESS_LOCK = threading.RLock()
# DuckDB's own memory (its cache, hash tables, temp tables) on the connections of bulk jobs (import,
# analyze): past it DuckDB spills to its temp directory instead of growing the process
BULK_MEMORY_LIMIT = "512MB"


def bound_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Cap DuckDB's memory on a bulk job's connection at BULK_MEMORY_LIMIT."""
    con.execute(f"SET memory_limit = '{BULK_MEMORY_LIMIT}'")
_MIGRATED: set[str] = set()
# New store files are written in a storage format that DuckDB 1.1 and later read (DuckDB 2.x writes a newer
# one by default that every 1.x release refuses). The format is fixed when the file is created: existing
# stores keep theirs. bench/duckdb_compat.py opens a new store with DuckDB 1.1 and the newest 1.x release.
STORAGE_COMPATIBILITY = "v1.1.0"


def new_store_config() -> dict[str, str]:
    """Connection config for creating a store file (DuckDB < 1.2 has no such option and writes 1.x format)."""
    major_minor = tuple(int(p) for p in duckdb.__version__.split(".")[:2] if p.isdigit())
    return {"storage_compatibility_version": STORAGE_COMPATIBILITY} if major_minor >= (1, 2) else {}


def resolve_db_path(db: str | os.PathLike | None = None) -> Path:
    """The store file: the explicit argument, else $WORKBENCH_DB, else data/workbench.duckdb."""
    return Path(db).expanduser() if db else default_db_path()


def store_fingerprint(db: str | os.PathLike | None = None) -> tuple:
    """Changes whenever the store's contents may have changed (used as a cache key)."""
    path = resolve_db_path(db)
    parts: list = [str(path)]
    for p in (path, Path(str(path) + ".wal")):
        try:
            st = p.stat()
            parts += [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            parts += [None, None]
    return tuple(parts)


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def open_with_retry(path: Path, *, read_only: bool = False, config: dict | None = None,
                    timeout: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open `path`, retrying while another process holds its lock."""
    timeout = float(setting("lock_timeout")) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            if not _is_lock_conflict(exc):
                raise WorkbenchError(f"cannot open store {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"the store {path} is locked by another process (an import, run or analysis) "
                    f"and stayed locked for {timeout:.0f} s; wait for it to finish and try again, "
                    f"or raise WORKBENCH_LOCK_TIMEOUT") from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 1.6, 0.5)


@contextmanager
def connect(db: str | os.PathLike | None = None, *, timeout: float | None = None,
            migrate: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the store for one unit of work; closed on exit.

    Creates the file and applies pending migrations the first time a process opens it.
    Use `with connect(db) as con: con.begin(); ...; con.commit()` for transactional writes.
    """
    path = resolve_db_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _PROCESS_LOCK:
        config = None if path.exists() else new_store_config()
        con = open_with_retry(path, timeout=timeout, config=config)
        try:
            if migrate and str(path) not in _MIGRATED:
                from workbench.store.migrations import apply_migrations
                apply_migrations(con)
                _MIGRATED.add(str(path))
            yield con
        finally:
            con.close()


@contextmanager
def process_lock() -> Iterator[None]:
    """Hold the in-process store lock (for the console's differently configured connection)."""
    with _PROCESS_LOCK:
        yield
