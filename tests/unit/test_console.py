"""The locked-down read-only SQL path (shared by `workbench sql` and the app's console)."""

from __future__ import annotations

import pytest

from workbench.cli import main
from workbench.errors import QueryRefused
from workbench.store import connect
from workbench.store.console import run_query


@pytest.fixture
def db(tmp_db):
    with connect(tmp_db) as con:
        con.execute("INSERT INTO runs (run_id, name) VALUES ('r1', 'r1')")
        con.execute("INSERT INTO samples (run_id, sample_id, response, content_hash) "
                    "SELECT 'r1', 's' || i, 'text ' || i, 'h' FROM range(50) t(i)")
    return tmp_db


def test_select_returns_rows(db):
    res = run_query("SELECT sample_id FROM samples ORDER BY sample_id LIMIT 3", db)
    assert res.columns == ["sample_id"]
    assert [r[0] for r in res.rows] == ["s0", "s1", "s10"]
    assert not res.truncated


def test_row_cap_sets_truncated(db):
    res = run_query("SELECT * FROM samples", db, row_cap=10)
    assert len(res.rows) == 10 and res.truncated


@pytest.mark.parametrize("sql", [
    "COPY samples TO '/tmp/wb-leak.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/*')",
    "ATTACH '/tmp/wb-other.duckdb' AS o",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CREATE TABLE t (a INTEGER)",
    "DROP TABLE samples",
    "INSERT INTO runs (run_id, name) VALUES ('x', 'x')",
    "UPDATE samples SET response = ''",
    "DELETE FROM samples",
    "SET threads = 1",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling",
    "EXPORT DATABASE '/tmp/wb-export'",
    "SELECT 1; DROP TABLE samples",
    "CALL pragma_version()",
])
def test_forbidden_queries_are_refused(db, sql):
    with pytest.raises(QueryRefused):
        run_query(sql, db)
    # and the store is untouched
    assert run_query("SELECT count(*) FROM samples", db).rows == [(50,)]


def test_time_limit_interrupts(db):
    with pytest.raises(QueryRefused, match="time limit"):
        run_query("SELECT count(*) FROM range(100000000000) a", db, timeout_s=0.5)


def test_errors_are_readable(db):
    with pytest.raises(QueryRefused, match="catalog error"):
        run_query("SELECT * FROM no_such_table", db)


def test_cli_sql_formats_and_exit_codes(db, capsys):
    assert main(["sql", "SELECT sample_id FROM samples ORDER BY 1 LIMIT 2", "--db", str(db), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["sample_id", "s0", "s1"]
    assert main(["sql", "DROP TABLE samples", "--db", str(db)]) == 1
    assert "read-only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["sql"])
    assert exc.value.code == 2
