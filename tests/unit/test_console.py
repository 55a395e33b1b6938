"""The read-only SQL console: parse-tree rules (no process), the user-filter check, the page's pure pieces,
and run_query's basic contract (real child processes over a real store). The attack suite is
tests/integration/test_console_attacks.py."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from workbench.cli import main
from workbench.errors import QueryRefused
from workbench.store import connect
from workbench.store.console import check_filter, parse_bytes, run_query
from workbench.store.console_rules import check_statement, parser, readable_error
from workbench.ui.safe import md_text
from workbench.ui.sql_console import display_frame, refusal_parts


@pytest.fixture
def db(tmp_db):
    with connect(tmp_db) as con:
        con.execute("INSERT INTO runs (run_id, name) VALUES ('r1', 'r1')")
        con.execute("INSERT INTO samples (run_id, sample_id, response, content_hash) "
                    "SELECT 'r1', 's' || i, 'text ' || i, 'h' FROM range(50) t(i)")
    return tmp_db


@pytest.fixture(scope="module")
def p():
    con = parser()
    yield con
    con.close()


@pytest.mark.parametrize("sql, data, schema", [
    ("SELECT * FROM samples", {"samples"}, set()),
    ("select s.run_id from SAMPLES s join flags f using (run_id)", {"samples", "flags"}, set()),
    ("WITH t AS (SELECT * FROM runs) SELECT * FROM t", {"runs"}, set()),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r", set(), set()),
    ("FROM samples SELECT sample_id", {"samples"}, set()),
    ("VALUES (1), (2)", set(), set()),
    ("SELECT * FROM range(3) a, unnest([1, 2]) b, generate_series(1, 2) c", set(), set()),
    ("SELECT (SELECT count(*) FROM flags) AS n", {"flags"}, set()),
    ("DESCRIBE samples", set(), {"samples"}),
    ("SHOW samples", set(), {"samples"}),
    ("SHOW TABLES", set(), set()),
    ("SHOW ALL TABLES", set(), set()),
    ("SUMMARIZE flags", {"flags"}, set()),
    ("EXPLAIN SELECT * FROM samples", set(), {"samples"}),
    ("EXPLAIN ANALYZE SELECT * FROM samples", {"samples"}, set()),
    ("PRAGMA table_info('samples')", set(), {"samples"}),
    ("pragma show_tables", set(), set()),
])
def test_allowed_statements_and_the_tables_they_need(p, sql, data, schema):
    checked = check_statement(p, sql)
    assert checked.data_tables == data and checked.schema_tables == schema


@pytest.mark.parametrize("sql, why", [
    ("COPY samples TO '/tmp/x.csv'", "COPY statements are not allowed"),
    ("EXPLAIN ANALYZE COPY (SELECT * FROM samples) TO '/tmp/x.csv'", "EXPLAIN is allowed only in front of a query"),
    ("EXPLAIN /* */ ANALYZE COPY (SELECT 1) TO '/tmp/x.csv'", "EXPLAIN is allowed only|parser error"),
    ("UPDATE EXTENSIONS", "not allowed"),
    ("SELECT * FROM read_blob('/tmp/store.duckdb')", "read_blob() is not allowed"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings() is not allowed"),
    ("SELECT current_setting('temp_directory')", "current_setting() is not allowed"),
    ("SELECT main.current_setting('home_directory')", "current_setting() is not allowed"),
    ("SELECT * FROM samples WHERE sample_id IN (SELECT file FROM glob('/*'))", "glob() is not allowed"),
    ("SELECT * FROM query('SELECT 1')", "query() is not allowed"),
    ("SELECT * FROM information_schema.tables", "without a catalog or schema"),
    ("SELECT * FROM store.main.samples", "without a catalog or schema"),
    ("SHOW DATABASES", "SHOW DATABASES is not allowed"),
    ("PRAGMA database_list", "PRAGMA table_info"),
    ("PRAGMA table_info('x'); SELECT 1", "one statement"),
    ("SELECT 1; DROP TABLE samples", "one statement"),
    ("", "empty"),
    ("SELECT " + "abs(" * 400 + "1" + ")" * 400, "depth"),
    ("SELEC 1", "parser error"),
    ("SELECT '\udcff'", "not valid text"),
])
def test_refused_statements(p, sql, why):
    with pytest.raises(QueryRefused, match=why.replace("(", r"\(").replace(")", r"\)")):
        check_statement(p, sql)


@pytest.mark.parametrize("sql, columns", [
    ("SELECT count(*) FROM samples", set()),
    ("SELECT benchmark, count(*) FROM samples WHERE correct GROUP BY ALL ORDER BY 2", {"benchmark", "correct"}),
    ("SELECT s.sample_id FROM samples s JOIN flags f USING (run_id) WHERE s.metadata.k = 1",
     {"s", "sample_id", "run_id", "metadata", "k"}),
    ("WITH x(a) AS (SELECT n_chars FROM samples) SELECT a FROM x", {"n_chars", "a"}),
    ("EXPLAIN ANALYZE SELECT max(n_chars) FROM samples", {"n_chars"}),
    # what may read columns it does not name: every column is copied
    ("SELECT * FROM samples", None),
    ("SELECT * EXCLUDE (response) FROM samples", None),
    ("SELECT COLUMNS('n_.*') FROM samples", None),
    ("SELECT #2 FROM samples", None),
    ("SELECT s FROM samples s", None),
    ("SELECT a FROM samples AS s(a, b)", None),
    ("SELECT run_id FROM samples NATURAL JOIN flags", None),
    ("SUMMARIZE flags", None),
])
def test_the_columns_a_query_can_read(p, sql, columns):
    checked = check_statement(p, sql)
    assert checked.columns == (None if columns is None else frozenset(columns))


def test_a_query_over_a_few_columns_copies_only_those(tmp_db):
    # 400 MB of text in `response`, over what a 768 MB cap leaves DuckDB (256 MB): a count over two
    # columns answers (the text is not copied), while a query that reads the text is refused
    with connect(tmp_db) as con:
        con.execute("INSERT INTO samples (run_id, sample_id, response, benchmark, content_hash) "
                    "SELECT 'r', 's' || i, repeat(chr(CAST(65 + i % 26 AS INTEGER)), 4000000), 'b' || i % 3, 'h' "
                    "FROM range(100) t(i)")
    res = run_query("SELECT benchmark, count(*) AS n FROM samples GROUP BY 1 ORDER BY 1", tmp_db,
                    memory_limit="768MB")
    assert res.rows == [("b0", 34), ("b1", 33), ("b2", 33)]
    with pytest.raises(QueryRefused, match="memory"):
        run_query("SELECT max(length(response)) FROM samples", tmp_db, memory_limit="768MB")


def test_replacement_scans_and_cte_scoping_name_tables_to_check(p):
    # a string after FROM is a table name to DuckDB's parser; the console later requires a store table
    assert check_statement(p, "SELECT * FROM '/etc/passwd'").data_tables == {"/etc/passwd"}
    # a CTE of one subquery does not make the same name harmless outside it
    checked = check_statement(p, 'SELECT * FROM (WITH "/etc/passwd" AS (SELECT 1) SELECT 1), "/etc/passwd"')
    assert checked.data_tables == {"/etc/passwd"}


@pytest.mark.parametrize("where", [
    "subset = 'geometry' AND NOT correct",
    "n_flags > 0",
    "EXISTS (SELECT 1 FROM flags f WHERE f.sample_id = v.sample_id)",
    "sample_id LIKE '%;%' -- a comment",
])
def test_check_filter_accepts_conditions(where):
    out = check_filter(where)
    assert out.startswith("(\n") and out.endswith("\n)") and where in out


@pytest.mark.parametrize("where, why", [
    ("1=1) UNION SELECT * FROM samples WHERE (1=1", "one SQL condition"),
    ("1=1) ORDER BY (1", "one SQL condition"),
    ("1=1); DROP TABLE samples; --", "parser error"),
    ("(SELECT count(*) FROM read_csv('/etc/passwd')) > 0", "read_csv() is not allowed"),
    ("current_setting('home_directory') IS NOT NULL", "current_setting() is not allowed"),
    ("sample_id IN (SELECT path FROM duckdb_databases)", "duckdb_databases"),
    ("length(response) > 1 /*", "parser error"),
])
def test_check_filter_refuses(where, why):
    with pytest.raises(QueryRefused, match=why.replace("(", r"\(").replace(")", r"\)")):
        check_filter(where)


def test_export_filter_uses_the_console_rules(db, tmp_path):
    from workbench.exporting import export_table
    assert export_table("samples", db, where="sample_id = 's1'").num_rows == 1
    with pytest.raises(QueryRefused, match="read_text"):
        export_table("samples", db, where="response = (SELECT content FROM read_text('/etc/hostname'))")


def test_readable_error_drops_tips_and_names_the_kind():
    exc = Exception("Out of Memory Error: failed\n\nPossible solutions:\n* more\n\nSee also https://x")
    assert readable_error(exc) == "out of memory error: failed"


def test_parse_bytes():
    assert parse_bytes("2GB") == 2 * 2**30 and parse_bytes("1500 MB") == 1500 * 2**20
    with pytest.raises(QueryRefused):
        parse_bytes("lots")


def test_display_frame_makes_any_result_showable():
    rows = [(1, [1, 2], Decimal("1.5"), 2**70, uuid.UUID(int=1), b"\x00", dt.timedelta(days=1), "t"),
            (2, {"a": 1}, None, 3, None, None, None, None)]
    df = display_frame(["a", "a", "", "big", "u", "b", "i", "t"], rows)
    assert list(df.columns) == ["a", "a_2", "column3", "big", "u", "b", "i", "t"]
    assert df["a_2"].tolist() == ["[1, 2]", '{"a": 1}'] and df["big"][0] == str(2**70)
    import pyarrow as pa
    pa.Table.from_pandas(df)  # what st.dataframe needs


def test_md_text_and_refusal_parts():
    assert "![" not in md_text("![x](http://h/p.png)") and "<b>" not in md_text("<b>")
    assert refusal_parts("parser error: x\n\nLINE 1: y\n  ^") == ("parser error: x", "LINE 1: y\n  ^")


# --- run_query: real child processes over a real store ---------------------------------------------

def test_select_returns_rows(db):
    res = run_query("SELECT sample_id FROM samples ORDER BY sample_id LIMIT 3", db)
    assert res.columns == ["sample_id"]
    assert [r[0] for r in res.rows] == ["s0", "s1", "s10"]
    assert not res.truncated and res.peak_mb and res.peak_mb < 2048


def test_row_cap_sets_truncated(db):
    res = run_query("SELECT * FROM samples", db, row_cap=10)
    assert len(res.rows) == 10 and res.truncated and "row cap" in res.note


def test_result_bytes_cap(db, monkeypatch):
    monkeypatch.setenv("WORKBENCH_SQL_RESULT_MB", "1")
    res = run_query("SELECT repeat('x', 100000) AS s FROM range(100)", db)
    assert res.truncated and 0 < len(res.rows) < 11 and "1 MB" in res.note


def test_odd_types_come_back_as_plain_values(db):
    res = run_query("SELECT [1, 2] AS l, {'a': 1} AS s, 170141183460469231731687303715884105727::HUGEINT AS h, "
                    "1.5::DECIMAL(38, 10) AS d, '2024-01-02 03:04:05+02'::TIMESTAMPTZ AS tz, "
                    "'12:00:00+02'::TIMETZ AS ttz, INTERVAL 1 DAY AS i, '\\x00'::BLOB AS b, "
                    "'a'::ENUM('a', 'b') AS e, uuid() AS u", db)
    row = dict(zip(res.columns, res.rows[0]))
    assert row["l"] == [1, 2] and row["s"] == {"a": 1} and row["h"] == 2**127 - 1
    assert row["d"] == Decimal("1.5") and row["tz"].utcoffset() is not None and row["e"] == "a"
    assert isinstance(row["u"], uuid.UUID) and row["i"] == dt.timedelta(days=1)


def test_time_limit_stops_the_query(db):
    with pytest.raises(QueryRefused, match="time limit"):
        run_query("SELECT count(*) FROM range(100000000000) a", db, timeout_s=0.5)


def test_memory_limit_holds_from_outside(db):
    with pytest.raises(QueryRefused, match="memory") as exc:
        run_query("SELECT length(repeat('y', 3000000000))", db, memory_limit="1GB")
    assert exc.value.peak_mb is None or exc.value.peak_mb <= 1024


def test_unknown_table_names_the_store_tables(db):
    with pytest.raises(QueryRefused, match=r"no table no_such_table in the store.*samples"):
        run_query("SELECT * FROM no_such_table", db)


def test_missing_store_and_bad_memory_setting(tmp_path, db):
    with pytest.raises(QueryRefused, match="no store"):
        run_query("SELECT 1", tmp_path / "nope.duckdb")
    with pytest.raises(QueryRefused, match="too small"):
        run_query("SELECT 1", db, memory_limit="100MB")


def test_cli_sql_formats_and_exit_codes(db, capsys):
    assert main(["sql", "SELECT sample_id FROM samples ORDER BY 1 LIMIT 2", "--db", str(db), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["sample_id", "s0", "s1"]
    assert main(["sql", "SELECT * FROM samples", "--db", str(db), "--max-rows", "3", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 3 and "truncated: only the first 3 rows" in out.err
    assert main(["sql", "DROP TABLE samples", "--db", str(db)]) == 1
    assert "read-only" in capsys.readouterr().err
    assert main(["sql", "SELECT 1", "--db", str(db), "--memory-limit", "lots"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["sql"])
    assert exc.value.code == 2
