"""Attack suite for the SQL console (issue 14), through `run_query`, the CLI in-process and as real
processes: writes, files, settings and path leaks, resource exhaustion and concurrency. The store stays
byte-identical and no file appears anywhere near it (checked last, in this module's order)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import QueryRefused
from workbench.store import connect
from workbench.store.console import run_query

pytestmark = pytest.mark.xdist_group("console_attacks")  # one worker, file order: the integrity check runs last

ROOT = Path(__file__).resolve().parents[2]
WB = [sys.executable, "-m", "workbench.cli"]
SLOW = "SELECT count(*) FROM range(100000000000) a"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The demo store (imported and analysed), a `<store>.tmp/` folder (where `EXPLAIN ANALYZE COPY` used
    to write) and the store's digest and folder listing before any attack."""
    from workbench.demo import build_demo
    tmp = tmp_path_factory.mktemp("console-attacks")
    db = tmp / "store.duckdb"
    build_demo(db)
    (tmp / "store.duckdb.tmp").mkdir()
    return {"db": db, "digest": hashlib.sha256(db.read_bytes()).hexdigest(), "listing": listing(tmp)}


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def secrets(db: Path) -> list[str]:
    """Strings no console output may contain: where the store, the project, the venv and home are."""
    return [str(db), db.parent.name, str(ROOT), sys.prefix, os.path.expanduser("~") + "/", "workbench-console-",
            os.getcwd()]


def attempt(sql: str, db: Path, **kw) -> str:
    """The text a user would see: the rows, or the refusal message."""
    try:
        res = run_query(sql, db, **kw)
    except QueryRefused as exc:
        return "REFUSED " + str(exc)
    return "ROWS " + repr(res.columns) + repr(res.rows)


WRITES = [
    "INSERT INTO runs (run_id, name) VALUES ('x', 'x')",
    "UPDATE samples SET response = ''",
    "DELETE FROM samples",
    "DROP TABLE samples",
    "TRUNCATE samples",
    "ALTER TABLE samples ADD COLUMN x INT",
    "CREATE TABLE t AS SELECT 1",
    "CREATE TEMP TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "CREATE MACRO m(x) AS x",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "WITH x AS (SELECT 1) INSERT INTO runs (run_id, name) SELECT 'a', 'a'",
    "MERGE INTO runs USING (SELECT 'z' AS run_id) s USING (run_id) "
    "WHEN NOT MATCHED THEN INSERT (run_id, name) VALUES ('z', 'z')",
    "COMMENT ON TABLE samples IS 'x'",
    "CHECKPOINT",
    "VACUUM",
    "ANALYZE",
    "BEGIN TRANSACTION",
    "SET threads = 1",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "SET VARIABLE x = 1",
    "USE memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "UPDATE EXTENSIONS",
    "FORCE INSTALL json",
    "ATTACH ':memory:' AS other",
    "DETACH console",
    "PREPARE p AS SELECT 1",
    "CALL pragma_version()",
    "PRAGMA enable_profiling",
    "PRAGMA disable_checkpoint_on_shutdown",
    "PIVOT samples ON subset USING count(*)",
    "SELECT 1; DROP TABLE samples",
    "SELECT * FROM samples; DELETE FROM samples",
    "EXPLAIN ANALYZE INSERT INTO runs (run_id, name) VALUES ('y', 'y')",
    "EXPLAIN DELETE FROM samples",
    "SELECT * FROM checkpoint()",
    "SELECT * FROM enable_logging()",
    "SELECT write_log('x')",
]


def file_attacks(db: Path) -> list[str]:
    tmp = f"{db}.tmp"
    return [
        f"COPY samples TO '{tmp}/x.csv'",
        f"EXPLAIN ANALYZE COPY (SELECT * FROM samples) TO '{tmp}/x.csv'",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{tmp}/x.parquet' (FORMAT parquet)",
        f"EXPORT DATABASE '{tmp}/export'",
        f"IMPORT DATABASE '{tmp}'",
        f"ATTACH '{tmp}/other.duckdb' AS o",
        f"ATTACH '{db}' AS again (READ_ONLY)",
        f"SELECT * FROM read_blob('{db}')",
        f"SELECT * FROM read_blob('{db}.wal')",
        f"SELECT * FROM read_text('{db}')",
        f"SELECT * FROM read_duckdb('{db}')",
        f"SELECT * FROM '{db}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM read_json('/etc/passwd')",
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM parquet_metadata('/etc/passwd')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM 'http://127.0.0.1:9/x.csv'",
        "SELECT * FROM read_csv('https://example.com/x.csv')",
        "SELECT * FROM glob('/*')",
        "SELECT (SELECT count(*) FROM read_text('/etc/hostname')) AS n",
        "SELECT * FROM samples WHERE sample_id IN (SELECT file FROM glob('*'))",
        "DESCRIBE SELECT * FROM read_csv('/etc/passwd')",
        "SUMMARIZE SELECT * FROM read_csv('/etc/passwd')",
        "EXPLAIN SELECT * FROM read_text('/etc/passwd')",
        'SELECT * FROM (WITH "/etc/passwd" AS (SELECT 1) SELECT 1), "/etc/passwd"',
        "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
        "SELECT * FROM query_table('/etc/passwd')",
        "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
        "SELECT * FROM histogram('/etc/passwd', x)",
        "SELECT * FROM store.main.samples",
        "SELECT * FROM console.main.samples",
    ]


LEAKS = [
    "SELECT * FROM duckdb_settings()",
    "FROM duckdb_settings()",
    "SELECT * FROM duckdb_settings",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM duckdb_databases",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_temporary_files()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM which_secret('s3://x/y', 's3')",
    "SELECT * FROM duckdb_memory()",
    "SELECT * FROM pragma_database_list()",
    "SELECT * FROM pragma_user_agent()",
    "SELECT * FROM pragma_platform()",
    "SELECT * FROM information_schema.schemata",
    "SELECT * FROM pg_catalog.pg_database",
    "SELECT * FROM sqlite_master",
    "PRAGMA database_list",
    "PRAGMA version",
    "PRAGMA platform",
    "SHOW DATABASES",
    "SHOW ALL TABLES",
    "SHOW TABLES",
    "DESCRIBE samples",
    "SUMMARIZE runs",
    "PRAGMA table_info('samples')",
    "EXPLAIN SELECT * FROM samples",
    "EXPLAIN ANALYZE SELECT count(*) FROM samples",
    "SELECT current_setting('home_directory')",
    "SELECT current_setting('temp_directory')",
    "SELECT current_setting('extension_directory')",
    "SELECT current_setting('allowed_directories')",
    "SELECT getenv('HOME')",
    "SELECT current_database(), current_catalog(), current_schema(), current_schemas(true), version()",
    "SELECT * FROM no_such_table",
    "SELECT no_such_column FROM samples",
]


def test_writes_are_refused(store):
    for sql in WRITES:
        out = attempt(sql, store["db"])
        assert out.startswith("REFUSED "), (sql, out)
        assert "Traceback" not in out and "\n  File " not in out


def test_file_and_network_access_is_refused(store):
    for sql in file_attacks(store["db"]):
        out = attempt(sql, store["db"])
        assert out.startswith("REFUSED "), (sql, out)
    assert not any((store["db"].parent / "store.duckdb.tmp").iterdir())


def test_no_setting_or_path_is_visible(store):
    hidden = secrets(store["db"])
    for sql in LEAKS:
        out = attempt(sql, store["db"])
        leaked = [s for s in hidden if s in out]
        assert not leaked, (sql, leaked, out[:500])
    # what is allowed still works, showing the console's own catalog only
    assert "'console'" in attempt("SELECT current_database()", store["db"])
    assert "samples" in attempt("SHOW TABLES", store["db"])


def test_cli_gives_one_message_per_attack(store, capsys):
    db = str(store["db"])
    for sql in (WRITES + file_attacks(store["db"]) + LEAKS[:5])[::3]:  # the CLI wraps run_query: a sample
        code = main(["sql", sql, "--db", db])
        err = capsys.readouterr().err
        assert code == 1, (sql, err)
        assert err.startswith("workbench sql: error: ") and "Traceback" not in err, (sql, err)


def test_cli_processes_never_show_a_traceback(store):
    for sql in ["UPDATE EXTENSIONS", f"SELECT * FROM read_blob('{store['db']}')", "SELECT * FROM duckdb_settings()",
                "SELECT length(repeat('y', 3000000000))", "SELEC 1"]:
        out = subprocess.run([*WB, "sql", sql, "--db", str(store["db"]), "--memory-limit", "1GB"],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 1, (sql, out.stderr)
        assert "Traceback" not in out.stderr and out.stderr.startswith("workbench sql: error: "), (sql, out.stderr)


RESOURCE = [
    # either limit may stop a shape first on a loaded machine; the peak-memory check below holds for both
    ("SELECT length(repeat('y', 3000000000))", "memory|time limit"),
    ("SELECT length(string_agg(response, '')) FROM samples, range(1000000)", "memory|time limit"),
    ("SELECT range(2000000000)", "memory|time limit"),
    ("SELECT list(range) FROM range(1000000000)", "memory|time limit"),
    ("WITH RECURSIVE t(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, s || s FROM t WHERE n < 40) "
     "SELECT max(length(s)) FROM t", "memory|time limit"),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t", "memory|time limit"),
    (SLOW, "time limit"),
    ("SELECT count(*) FROM samples a, samples b, samples c, samples d, range(100000000) e", "time limit"),
    ("SELECT * FROM range(1000000000) ORDER BY random() LIMIT 3", "memory|time limit"),
    ("SELECT " + "(" * 100_000 + "1" + ")" * 100_000, "longer than"),
    ("SELECT " + "abs(" * 300 + "1" + ")" * 300, "depth"),
    ("SELECT * FROM " + "(SELECT * FROM " * 300 + "range(3)" + ")" * 300, "depth"),
]


@pytest.mark.parametrize("sql, why", RESOURCE, ids=[f"shape{i}" for i in range(len(RESOURCE))])
def test_resource_limits_hold_for_every_shape(store, sql, why):
    with pytest.raises(QueryRefused, match=why) as exc:
        run_query(sql, store["db"], timeout_s=3, memory_limit="1GB")
    assert exc.value.peak_mb is None or exc.value.peak_mb <= 1024  # the process never grew past its limit


def test_huge_results_are_capped(store, monkeypatch):
    many = run_query("SELECT * FROM range(1000000000)", store["db"], row_cap=1000)
    assert len(many.rows) == 1000 and many.truncated
    monkeypatch.setenv("WORKBENCH_SQL_RESULT_MB", "8")
    wide = run_query("SELECT repeat('x', 1000000) AS s FROM range(100)", store["db"])
    assert wide.truncated and len(wide.rows) < 9 and "8 MB" in wide.note
    one = run_query("SELECT repeat('x', 50000000) AS s", store["db"], memory_limit="1GB")
    assert one.truncated and one.rows == []


def worker_pids(parent: int) -> list[int]:
    """The console query processes whose parent is `parent`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == parent and b"console_worker" in cmd:
            found.append(int(stat.parent.name))
    return found


def wait_for(cond, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def store_free(db: Path) -> bool:
    try:
        with connect(db, timeout=0.2):
            return True
    except Exception:  # noqa: BLE001 - StoreBusy while the console copies tables
        return False


def test_import_does_not_wait_for_a_slow_console_query(store, tmp_path):
    """A CLI console query that runs for 30 s; `workbench import` in another process finishes while it runs.
    Killing the CLI kills its query process too. Runs on a copy: the import writes."""
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(store["db"], db)
    slow = subprocess.Popen([*WB, "sql", SLOW, "--db", str(db), "--timeout", "30"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: worker_pids(slow.pid))
        wait_for(lambda: store_free(db))  # the query process has copied what it needs and let go
        src = tmp_path / "more.jsonl"
        src.write_text("".join(json.dumps({"id": f"m{i}", "response": f"trace {i}"}) + "\n" for i in range(20)))
        out = subprocess.run([*WB, "import", str(src), "--db", str(db), "--run", "during-console"],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert slow.poll() is None  # the console query is still running: the import did not wait for it
        workers = worker_pids(slow.pid)
        assert workers
    finally:
        slow.send_signal(signal.SIGKILL)
        slow.wait(10)
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), timeout=10)
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM samples WHERE run_id = 'during-console'").fetchone() == (20,)


def test_a_slow_query_does_not_block_another_session(store):
    """Two app sessions are two threads of one process: the second query returns while the first runs."""
    db = store["db"]
    first: dict = {}

    def slow() -> None:
        first["out"] = attempt(SLOW, db, timeout_s=60)

    th = threading.Thread(target=slow)
    th.start()
    try:
        wait_for(lambda: worker_pids(os.getpid()))
        res = run_query("SELECT count(*) FROM runs", db)
        assert res.rows[0][0] >= 1
        assert th.is_alive()  # the slow query is still running
    finally:
        for pid in worker_pids(os.getpid()):
            os.kill(pid, signal.SIGKILL)
        th.join(30)
    assert first["out"].startswith("REFUSED ")


def test_store_is_byte_identical_and_no_file_appeared(store):
    db = store["db"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == store["digest"]
    assert listing(db.parent) == store["listing"]
    assert not Path(f"{db}.wal").exists()
