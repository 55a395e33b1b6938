"""Migrations: named, append-only, and a store made by the first migration upgrades cleanly."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from workbench.cli import main
from workbench.store import connect
from workbench.store.db import _MIGRATED
from workbench.store.migrations import Migration, MigrationMismatch, all_migrations, apply_migrations, schema_version
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


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "old-store"


def _old_store(tmp_path: Path) -> Path:
    """The committed store made by the version at commit 2585983 (demo run, analysed, probed, clustered)."""
    db = tmp_path / "old.duckdb"
    with gzip.open(FIXTURES / "store-2585983.duckdb.gz") as src, db.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return db


def test_old_store_opens_and_upgrades(tmp_path):
    db = _old_store(tmp_path)
    raw = duckdb.connect(str(db))
    before = {t: raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("samples", "steps", "flags", "probe_traces", "probe_steps", "cluster_members")}
    assert raw.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 5
    assert "checksum" not in [r[0] for r in raw.execute("DESCRIBE schema_migrations").fetchall()]
    raw.close()
    with connect(db) as con:
        assert schema_version(con) == all_migrations()[-1].version
        assert con.execute("SELECT count(*) FROM schema_migrations WHERE checksum IS NULL").fetchone()[0] == 0
        after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in before}
        assert after == before and before["probe_steps"] > 0
        # the key now includes the tier: a model-tier finding with index 0 no longer collides with text ones
        con.execute("INSERT INTO flags (run_id, sample_id, detector, detector_version, finding_index, tier, severity,"
                    " score) SELECT run_id, sample_id, detector, 'x', finding_index, 'attention', 'low', 0.5 "
                    "FROM flags WHERE tier = 'text' LIMIT 1")
    from workbench.analysis.pipeline import analyze_store
    res = analyze_store(db, progress=False, workers=1, force=True)
    assert res.analysed["steps"] == before["samples"] and not res.errors
    from workbench.probe import maps
    assert maps.read(FIXTURES / "wrong-answer-6e2c76e470.npz").meta["layout"] == 1


def test_store_with_an_edited_migration_is_refused(tmp_db):
    with connect(tmp_db):
        pass
    con = duckdb.connect(str(tmp_db))
    con.execute("UPDATE schema_migrations SET checksum = 'deadbeef' || checksum WHERE version = 1")
    con.close()
    _MIGRATED.discard(str(tmp_db))
    with pytest.raises(MigrationMismatch, match=r"0001_core.*edited after"), connect(tmp_db):
        pass


def test_store_from_a_newer_version_is_refused(tmp_db):
    with connect(tmp_db):
        pass
    con = duckdb.connect(str(tmp_db))
    con.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
    con.close()
    _MIGRATED.discard(str(tmp_db))
    with pytest.raises(MigrationMismatch, match=r"9999_future.*newer version"), connect(tmp_db):
        pass
    assert main(["schema", "--db", str(tmp_db), "--version"]) == 1


def test_migration_checksums_ignore_line_endings():
    m = all_migrations()[0]
    assert Migration(m.version, m.name, m.sql.replace("\n", "\r\n") + "\n\n").checksum == m.checksum
    assert Migration(m.version, m.name, m.sql + "\n-- edited").checksum != m.checksum
