"""The SQL page under attack (AppTest: the real page script, real console processes, the real store):
every refusal is one escaped message, never an exception box; odd results still show; the store is
unchanged afterwards."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import pytest
from apptest_util import all_text, page

pytestmark = pytest.mark.xdist_group("sql_page")  # one worker, file order: the integrity check runs last

SLOW = "SELECT count(*) FROM range(100000000000) a"


@pytest.fixture(scope="module")
def digest(app_db):
    return hashlib.sha256(app_db.read_bytes()).hexdigest()


def run_sql(sql: str):
    at = page("sql")
    at.text_area(key="sql_text").set_value(sql)
    at.button(key="sql_run").click().run()
    assert not at.exception, at.exception
    return at


def plain(markdown: str) -> str:
    """The text a reader sees: the page escapes every markdown character with a backslash."""
    return re.sub(r"\\(.)", r"\1", markdown)


def shown(at) -> str:
    return all_text(at) + "\n".join(c.value for c in at.code)


def attacks(db: Path) -> list[tuple[str, str]]:
    return [
        ("DROP TABLE samples", "read-only"),
        ("UPDATE EXTENSIONS", "not allowed"),
        (f"SELECT * FROM read_blob('{db}')", "read_blob() is not allowed"),
        (f"EXPLAIN ANALYZE COPY (SELECT * FROM samples) TO '{db}.tmp/x.csv'", "EXPLAIN is allowed only"),
        ("SELECT * FROM duckdb_settings()", "duckdb_settings() is not allowed"),
        ("SELECT current_setting('home_directory')", "current_setting() is not allowed"),
        ("SELECT * FROM duckdb_databases", "no table duckdb"),
        ("PRAGMA database_list", "PRAGMA table"),
        ("INSTALL httpfs", "read-only"),
        ("SELECT * FROM glob('/*')", "glob() is not allowed"),
    ]


def test_attacks_are_refused_as_one_message(app_db, digest):
    Path(f"{app_db}.tmp").mkdir(exist_ok=True)
    for sql, why in attacks(app_db):
        at = run_sql(sql)
        assert len(at.error) == 1 and at.error[0].value.startswith("Query refused: "), (sql, shown(at))
        assert why in plain(at.error[0].value), (sql, at.error[0].value)
        assert not at.dataframe
    assert not any(Path(f"{app_db}.tmp").iterdir())


def test_no_path_or_setting_on_the_page(app_db):
    hidden = [str(app_db), app_db.parent.name, sys.prefix, os.path.expanduser("~") + "/", "workbench-console-"]
    for sql in ["SHOW ALL TABLES", "EXPLAIN ANALYZE SELECT count(*) FROM samples", "SELECT * FROM no_such_table",
                "SELECT current_database()", "SUMMARIZE runs"]:
        at = run_sql(sql)
        text = shown(at) + "".join(str(df.value.to_dict()) for df in at.dataframe)
        assert not [s for s in hidden if s in text], sql


def test_error_text_cannot_inject_markdown(app_db):
    at = run_sql('SELECT * FROM "![x](http://127.0.0.1:9/p.png)"')
    body = at.error[0].value
    assert "](http" not in body and "\\!\\[x\\]" in body  # escaped: shown as text, never fetched


def test_parser_errors_keep_their_layout(app_db):
    at = run_sql("SELEC 1")
    assert plain(at.error[0].value).startswith("Query refused: parser error")
    assert any("LINE 1" in c.value for c in at.code)


def test_any_result_type_shows(app_db):
    at = run_sql("SELECT [1, 2] AS l, {'a': 1} AS s, 2::HUGEINT ** 100 AS big, "
                 "170141183460469231731687303715884105727::HUGEINT AS h, 1.5::DECIMAL(38, 10) AS d, "
                 "uuid() AS u, '\\x00'::BLOB AS b, INTERVAL 1 DAY AS i, 1 AS dup, 2 AS dup, "
                 "'<script>alert(1)</script>' AS x")
    df = at.dataframe[0].value
    assert list(df.columns) == ["l", "s", "big", "h", "d", "u", "b", "i", "dup", "dup_10", "x"]
    assert df["x"][0] == "<script>alert(1)</script>"  # data is text, shown as is in the grid


def test_limits_show_as_messages(app_db, monkeypatch):
    at = run_sql("SELECT length(repeat('y', 3000000000))")
    assert "memory" in at.error[0].value
    monkeypatch.setenv("WORKBENCH_SQL_TIMEOUT", "1")
    at = run_sql(SLOW)
    assert "time limit" in at.error[0].value
    monkeypatch.setenv("WORKBENCH_SQL_ROW_CAP", "5")
    at = run_sql("SELECT * FROM range(1000)")
    assert len(at.dataframe[0].value) == 5 and "Truncated" in at.warning[0].value


def test_store_is_byte_identical(app_db, digest):
    assert hashlib.sha256(app_db.read_bytes()).hexdigest() == digest
