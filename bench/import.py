"""Import speed: `workbench import` of the dev set vs DuckDB's own read_json into a table.

    .venv/bin/python bench/import.py [PATH]      # default ../shared/data/qvq-traces/dev.jsonl

Prints traces/s, MB/s and the ratio to DuckDB's read_json measured in the same run (targets: the
import under 5 s on a quiet machine and within 3.5x of read_json in the same run).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        print(f"skipped: {path} not found (the real traces live in ../shared)")
        return 0
    mb = path.stat().st_size / 1e6
    n = sum(1 for line in path.open("rb") if line.strip())
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(f"{tmp}/raw.duckdb")
        t = time.perf_counter()
        con.execute("CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited')", [str(path)])
        con.close()
        raw_s = time.perf_counter() - t
        db = f"{tmp}/wb.duckdb"
        cmd = [sys.executable, "-m", "workbench.cli", "import", str(path), "--db", db]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wb_s = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        again_s = time.perf_counter() - t
    print(f"input: {path.name}, {n} traces, {mb:.1f} MB")
    print(f"duckdb read_json -> table:        {raw_s:6.2f} s  {n / raw_s:8.0f} traces/s  {mb / raw_s:6.1f} MB/s")
    print(f"workbench import (new store):     {wb_s:6.2f} s  {n / wb_s:8.0f} traces/s  {mb / wb_s:6.1f} MB/s"
          f"  ratio {wb_s / raw_s:.1f}x  (whole CLI process, incl. Python start-up)")
    print(f"workbench import (re-import, no changes): {again_s:6.2f} s")
    print(f"target < 5 s: {'met' if wb_s < 5 else 'NOT met'}; "
          f"target <= 3.5x read_json: {'met' if wb_s / raw_s <= 3.5 else 'NOT met'} ({wb_s / raw_s:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
