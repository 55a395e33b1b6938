"""SQL console limits, measured: time and peak memory of the worst query shapes, and who waits for whom.

    .venv/bin/python bench/console.py [--db STORE] [--quick]

Without --db, imports and analyses ../shared/data/qvq-traces/dev.jsonl into a temporary store (the
demo store when the real traces are absent). Every query runs through `run_query` with the default
limits (WORKBENCH_SQL_TIMEOUT, WORKBENCH_SQL_MEMORY_LIMIT, ...). For each shape it prints the outcome,
the wall time seen by the caller (process start, table copy and query) and the query process's peak
resident memory (wait4 ru_maxrss). Then, with a slow console query running:
- a second console query (another app session) and
- `workbench import` of 200 traces in another process
are timed against the same actions with nothing else running.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.config import setting  # noqa: E402
from workbench.errors import QueryRefused  # noqa: E402
from workbench.store.console import run_query  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
SLOW = "SELECT count(*) FROM range(100000000000) a"  # runs into the time limit

SHAPES = [
    ("process overhead", "SELECT 1"),
    ("copy + scan of samples (largest table)", "SELECT count(*), sum(length(response)) FROM samples"),
    ("3 GB string (issue 14)", "SELECT length(repeat('y', 3000000000))"),
    ("string_agg of samples x 100", "SELECT length(string_agg(response, '')) FROM samples, range(100)"),
    ("2-billion-element list", "SELECT range(2000000000)"),
    ("list() of 1e9 rows", "SELECT list(range) FROM range(1000000000)"),
    ("unbounded recursive CTE",
     "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t"),
    ("doubling-string recursive CTE", "WITH RECURSIVE t(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, s || s FROM t "
                                      "WHERE n < 40) SELECT max(length(s)) FROM t"),
    ("cross join count (1e11 rows)", SLOW),
    ("samples self-join (133M pairs)", "SELECT count(*) FROM samples a JOIN samples b USING (run_id)"),
    ("sort of 1e9 random rows", "SELECT * FROM range(1000000000) ORDER BY random() LIMIT 3"),
    ("1e9 rows returned", "SELECT * FROM range(1000000000)"),
    ("wide rows: 1 MB x 500", "SELECT repeat('x', 1000000) FROM range(500)"),
    ("every sample's response", "SELECT * FROM samples"),
    ("deep nesting (100k parentheses)", "SELECT " + "(" * 100_000 + "1" + ")" * 100_000),
]


def build_store(tmp: Path) -> Path:
    db = tmp / "bench.duckdb"
    wb = [sys.executable, "-m", "workbench.cli"]
    if DEV.exists():
        subprocess.run([*wb, "import", str(DEV), "--db", str(db)], check=True, capture_output=True, cwd=ROOT)
        subprocess.run([*wb, "analyze", "--db", str(db)], check=True, capture_output=True, cwd=ROOT)
    else:
        subprocess.run([*wb, "demo", "--db", str(db)], check=True, capture_output=True, cwd=ROOT)
    return db


def measure(sql: str, db: Path) -> tuple[str, float, float | None]:
    t = time.perf_counter()
    try:
        res = run_query(sql, db)
        outcome = f"ok, {len(res.rows):,} rows" + (" (truncated)" if res.truncated else "")
        peak = res.peak_mb
    except QueryRefused as exc:
        msg = str(exc)
        outcome = ("refused: time limit" if "time limit" in msg else "refused: memory limit" if "memory" in msg
                   else f"refused: {msg[:60]}")
        peak = getattr(exc, "peak_mb", None)
    return outcome, time.perf_counter() - t, peak


def import_seconds(db: Path, tmp: Path, tag: str) -> float:
    src = tmp / f"{tag}.jsonl"
    src.write_text("".join(json.dumps({"id": f"{tag}{i}", "response": f"trace {i}"}) + "\n" for i in range(200)))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workbench.cli", "import", str(src), "--db", str(db), "--run", tag],
                   check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t


def while_slow(action, db: Path) -> tuple[float, bool]:
    """Run `action` while a console query that runs into the time limit is going; (seconds, slow still running)."""
    started = threading.Event()
    done = threading.Event()

    def slow() -> None:
        started.set()
        with contextlib.suppress(QueryRefused):
            run_query(SLOW, db)
        done.set()

    th = threading.Thread(target=slow)
    th.start()
    started.wait()
    time.sleep(1.5)  # the slow query's process has copied its tables and is running
    t = time.perf_counter()
    action()
    seconds = time.perf_counter() - t
    still = not done.is_set()
    th.join()
    return seconds, still


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path)
    ap.add_argument("--quick", action="store_true", help="skip the slowest shapes")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        db = args.db or build_store(tmp)
        digest = hashlib.sha256(db.read_bytes()).hexdigest()
        print(f"store: {db.name if args.db is None else db}, {db.stat().st_size / 1e6:.0f} MB; limits: "
              f"{setting('sql_timeout')} s, {setting('sql_memory_limit')}, {setting('sql_row_cap')} rows, "
              f"{setting('sql_result_mb')} MB of results")
        print(f"{'shape':42} {'outcome':34} {'wall s':>7} {'peak MB':>8}")
        for label, sql in SHAPES:
            if args.quick and label.startswith(("samples self-join", "sort of")):
                continue
            outcome, secs, peak = measure(sql, db)
            print(f"{label:42} {outcome:34} {secs:7.2f} {peak if peak is None else round(peak):>8}")
        alone = measure("SELECT count(*) FROM runs", db)[1]
        during, still = while_slow(lambda: run_query("SELECT count(*) FROM runs", db), db)
        print(f"second console query: alone {alone:.2f} s; while a {setting('sql_timeout')} s query runs "
              f"{during:.2f} s (slow query still running when it returned: {still})")
        if args.db is None:
            alone = import_seconds(db, tmp, "alone")
            during, still = while_slow(lambda: import_seconds(db, tmp, "during"), db)
            print(f"workbench import of 200 traces: alone {alone:.2f} s; while a {setting('sql_timeout')} s console "
                  f"query runs {during:.2f} s (console query still running when it finished: {still})")
        else:
            same = hashlib.sha256(db.read_bytes()).hexdigest() == digest
            print(f"store byte-identical after all queries: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
