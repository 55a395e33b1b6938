"""Named, append-only schema migrations, checksummed when applied.

Each migration is a file `NNNN_name.sql` in this folder, applied once, in order, inside a
transaction, and recorded in `schema_migrations` with the SHA-256 of its text. Never edit or
renumber a shipped file: add a new one. A store whose recorded checksum differs from the shipped
file (the file was edited after the store applied it), or that has a migration this version does
not ship (it was made by a newer version), is refused with a message, before anything is written.
A store made before checksums were recorded gets them recorded on first open, as it is.
tests/unit/test_migrations.py checks all of this, and that a committed store made by an older
version (tests/fixtures/old-store/) opens and upgrades.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from workbench.errors import WorkbenchError

MIGRATIONS_DIR = Path(__file__).parent
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationMismatch(WorkbenchError):
    """The store's applied migrations do not match the ones this version ships."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        # Line endings and trailing blanks do not count (a checkout on another OS stays valid).
        text = "\n".join(line.rstrip() for line in self.sql.strip().splitlines())
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def all_migrations() -> list[Migration]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise RuntimeError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
        applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp, checksum VARCHAR)""")
    con.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum VARCHAR")


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    _ensure_table(con)
    return {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}


def check_applied(con: duckdb.DuckDBPyConnection, shipped: list[Migration]) -> None:
    """Refuse a store whose applied migrations differ from the shipped ones; record missing checksums."""
    by_version = {m.version: m for m in shipped}
    rows = con.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version").fetchall()
    for version, name, checksum in rows:
        mig = by_version.get(version)
        if mig is None:
            raise MigrationMismatch(
                f"this store has migration {version:04d}_{name}, which this version of the workbench does not "
                f"ship: it was made by a newer version. Open it with that version (or upgrade this one).")
        if checksum is not None and checksum != mig.checksum:
            raise MigrationMismatch(
                f"this store applied migration {version:04d}_{name} with other contents than the file this "
                f"version ships (checksum {checksum[:12]} vs {mig.checksum[:12]}): the migration was edited after "
                f"the store was made. Open the store with the version that made it, or export its data "
                f"(`workbench export`) and import it into a new store.")
    missing = [(by_version[v].checksum, v) for v, _, c in rows if c is None and v in by_version]
    if missing:
        con.executemany("UPDATE schema_migrations SET checksum = ? WHERE version = ?", missing)


def apply_migrations(con: duckdb.DuckDBPyConnection, *, upto: int | None = None) -> list[Migration]:
    """Check the applied migrations, then apply every pending one (up to `upto`, for tests)."""
    shipped = all_migrations()
    done = applied_versions(con)
    check_applied(con, shipped)
    applied = []
    for mig in shipped:
        if mig.version in done or (upto is not None and mig.version > upto):
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(mig.sql)
            con.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                        [mig.version, mig.name, mig.checksum])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(mig)
    return applied


def applied(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, object]]:
    """(version, name, applied_at) of every applied migration, in order."""
    _ensure_table(con)
    return con.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").fetchall()


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(applied_versions(con), default=0)
