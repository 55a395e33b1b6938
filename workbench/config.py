"""Every setting once: name, default, environment variable, help.

The CLI reads defaults from here, the README's settings table is checked against it by a test,
and nothing else in the code hard-codes these values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    help: str

    def get(self) -> str:
        return os.environ.get(self.env, self.default)


SETTINGS: dict[str, Setting] = {s.name: s for s in [
    Setting("db", "WORKBENCH_DB", str(DATA_DIR / "workbench.duckdb"),
            "DuckDB store file used when --db is not given."),
    Setting("lock_timeout", "WORKBENCH_LOCK_TIMEOUT", "120",
            "Seconds a process waits for another process's write lock on the store before giving up."),
    Setting("sql_row_cap", "WORKBENCH_SQL_ROW_CAP", "5000",
            "Most rows the read-only SQL console (CLI and app) returns; more are cut and flagged 'truncated'."),
    Setting("sql_timeout", "WORKBENCH_SQL_TIMEOUT", "10",
            "Seconds a console query may run before it is interrupted."),
    Setting("sql_memory_limit", "WORKBENCH_SQL_MEMORY_LIMIT", "2GB",
            "Most memory a console query may use: a hard cap on its process's address space."),
    Setting("sql_result_mb", "WORKBENCH_SQL_RESULT_MB", "64",
            "Most megabytes of rows a console query returns; more are cut and flagged 'truncated'."),
    Setting("sql_workers", "WORKBENCH_SQL_WORKERS", "4",
            "Console queries that may run at once in one process (the app), each in its own child process."),
    Setting("export_memory_limit", "WORKBENCH_EXPORT_MEMORY_LIMIT", "1GB",
            "DuckDB memory limit of reports and exports (`workbench report`, `workbench export`, the app's "
            "downloads); larger sorts spill to a temporary folder."),
    Setting("app_memory_limit", "WORKBENCH_APP_MEMORY_LIMIT", "1GB",
            "DuckDB memory limit of the app's page queries (a scan of a million responses, e.g. a text search, "
            "streams within it instead of caching the text)."),
    Setting("probe_dir", "WORKBENCH_PROBE_DIR", "",
            "Folder for per-token attention maps written by `workbench probe` (referenced from the store). "
            "Empty: beside the store, `<store file name>.probes/`, so two stores never share maps."),
    Setting("host", "WORKBENCH_HOST", "127.0.0.1", "Address the app binds to."),
    Setting("port", "WORKBENCH_PORT", "8501", "Port the app listens on."),
    Setting("ray_address", "WORKBENCH_RAY_ADDRESS", "",
            "Ray cluster that `workbench analyze --engine ray` joins (e.g. ray://head:10001 or head:6379). "
            "Empty: a local Ray instance on this machine, shut down afterwards."),
    Setting("ray_export_dir", "WORKBENCH_RAY_EXPORT_DIR", "",
            "Where `analyze --engine ray` writes the samples' Parquet for the tasks: a folder every node reads "
            "(shared filesystem) or an object-store URI. Empty: a temporary folder (local Ray only)."),
    Setting("app_url", "WORKBENCH_APP_URL", "",
            "Address where users open the app (e.g. http://127.0.0.1:8501); reports and exports link to "
            "traces there. Empty: reports say that they cannot link to the app."),
]}


def setting(name: str) -> str:
    return SETTINGS[name].get()


def default_db_path() -> Path:
    return Path(setting("db"))


def probe_dir(db: str | os.PathLike | None = None) -> Path:
    """Where the probe maps of the store `db` live: the `probe_dir` setting when set, else the folder
    `<store file name>.probes` beside the store."""
    explicit = setting("probe_dir").strip()
    if explicit:
        return Path(explicit).expanduser()
    store = Path(db).expanduser() if db else default_db_path()
    return store.with_name(store.name + ".probes")
