"""The DuckDB store: the contract between run, analysis and view.

- `connect(db)`: the one connection factory (short-lived, lock-retrying, migrated).
- `migrations`: named, append-only schema migrations.
- `console`: the locked-down read-only SQL path shared by `workbench sql` and the app.
- `queries`: named read queries used by the CLI, the app and the report.
"""

from workbench.store.db import connect, resolve_db_path, store_fingerprint

__all__ = ["connect", "resolve_db_path", "store_fingerprint"]
