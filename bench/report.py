"""Reports and exports on the analysed dev set: wall time and peak memory (RSS of the CLI process).

    .venv/bin/python bench/report.py [STORE]      # an analysed store; default: build one from ../shared

Runs `workbench report --run RUN --format html|md` (also with a --filter) and `workbench export
steps|flags|samples` as separate processes and prints each one's time and peak resident memory
(target: under 1.5 GB; issue 16). Reports and exports stream through their own connection
(`export_memory_limit`, default 1GB, spilling to a temporary folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"
WB = [sys.executable, "-m", "workbench.cli"]
TARGET_MB = 1536


def measured(argv: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one command (its own process; RSS from wait4)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    sec = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode:
        print("   failed:", err.strip().splitlines()[-1:] if err else "")
    return sec, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if len(sys.argv) > 1:
            db = Path(sys.argv[1])
        else:
            if not DEV.exists():
                print(f"skipped: {DEV} not found (the real traces live in ../shared)")
                return 0
            db = tmp / "dev.duckdb"
            subprocess.run([*WB, "import", str(DEV), "--db", str(db), "--run", "dev"], check=True, capture_output=True)
            subprocess.run([*WB, "analyze", "--db", str(db)], check=True, capture_output=True)
        import duckdb
        con = duckdb.connect(str(db), read_only=True)
        run, n = con.execute("SELECT run_id, count(*) FROM samples GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchone()
        con.close()
        print(f"store {db} · run {run} ({n:,} samples)")
        cases = [
            ("report html", ["report", "--run", run, "--format", "html", "--out", str(tmp / "r.html")]),
            ("report md", ["report", "--run", run, "--format", "md", "--out", str(tmp / "r.md")]),
            ("report html --filter", ["report", "--run", run, "--format", "html", "--out", str(tmp / "f.html"),
                                      "--filter", "NOT correct AND length(response) > 2000", "--max-failures", "50"]),
            ("report + --data-out parquet", ["report", "--run", run, "--format", "md", "--out", str(tmp / "d.md"),
                                             "--data-out", str(tmp / "data")]),
            ("export steps parquet", ["export", "steps", "--format", "parquet", "--out", str(tmp / "s.parquet")]),
            ("export steps jsonl", ["export", "steps", "--format", "jsonl", "--out", str(tmp / "s.jsonl")]),
            ("export steps csv", ["export", "steps", "--format", "csv", "--out", str(tmp / "s.csv")]),
            ("export samples parquet", ["export", "samples", "--format", "parquet", "--out", str(tmp / "x.parquet")]),
            ("export flags csv", ["export", "flags", "--format", "csv", "--out", str(tmp / "f.csv")]),
        ]
        worst = 0.0
        for name, args in cases:
            sec, mb, rc = measured(WB + args + ["--db", str(db)])
            worst = max(worst, mb)
            print(f"{name:28} {sec:6.1f} s   peak {mb:7.0f} MB   {'ok' if rc == 0 else f'EXIT {rc}'}")
        print(f"worst peak {worst:.0f} MB (target < {TARGET_MB} MB: {'met' if worst < TARGET_MB else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
