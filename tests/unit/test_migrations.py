"""Migrations: named, append-only, and a store made by the first migration upgrades cleanly."""

from __future__ import annotations

import duckdb

from workbench.store import connect
from workbench.store.migrations import all_migrations, apply_migrations, schema_version
from workbench.store.schema_docs import TABLES


def test_fresh_store_has_every_migration(tmp_db):
    with connect(tmp_db) as con:
        assert schema_version(con) == all_migrations()[-1].version
        names = [r[0] for r in con.execute("SELECT name FROM schema_migrations ORDER BY version").fetchall()]
    assert names == [m.name for m in all_migrations()]


def test_store_from_first_migration_upgrades_keeping_data(tmp_db):
    con = duckdb.connect(str(tmp_db))
    apply_migrations(con, upto=1)
    con.execute("INSERT INTO runs (run_id, name) VALUES ('old', 'old run')")
    con.execute("INSERT INTO samples (run_id, sample_id, response, content_hash) VALUES ('old', 's1', 'trace', 'h')")
    con.close()
    with connect(tmp_db) as con:
        assert schema_version(con) == all_migrations()[-1].version
        assert con.execute("SELECT response FROM samples WHERE sample_id = 's1'").fetchone() == ("trace",)
    # re-opening applies nothing twice
    con = duckdb.connect(str(tmp_db))
    assert apply_migrations(con) == []
    con.close()


def test_every_column_is_documented(tmp_db):
    with connect(tmp_db) as con:
        rows = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = 'main'").fetchall()
    actual: dict[str, set[str]] = {}
    for t, c in rows:
        actual.setdefault(t, set()).add(c)
    documented = {t: set(cols) for t, (_, cols) in TABLES.items()}
    assert actual == documented
