"""Which DuckDB releases open a store the workbench writes: a new store is opened read-only by each
given DuckDB version, installed into a throw-away virtualenv (pip, at bench time).

    .venv/bin/python bench/duckdb_compat.py                      # 1.1.3 and the newest 1.x release
    .venv/bin/python bench/duckdb_compat.py --versions 1.1.3,1.4.4,1.5.6

Prints, per version, whether it opens the store and reads every table. tests/unit/test_store_compat.py
checks the same with a DuckDB 1.x found in $WORKBENCH_DUCKDB1_PYTHON (a python that has duckdb 1.x).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

READ_EVERY_TABLE = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
tables = [r[0] for r in con.execute(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
n = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
print(duckdb.__version__, len(tables), n.get("samples"))
"""


def make_store(path: Path) -> None:
    from workbench.demo import build_demo
    build_demo(path)


def newest_1x() -> str:
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "duckdb"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("Available versions:"):
            for v in line.split(":", 1)[1].split(","):
                if v.strip().startswith("1."):
                    return v.strip()
    return "1.5.6"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--versions", default=None, help="comma-separated DuckDB versions (default: 1.1.3 + newest 1.x)")
    args = ap.parse_args()
    versions = args.versions.split(",") if args.versions else ["1.1.3", newest_1x()]
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store.duckdb"
        make_store(store)
        import duckdb
        print(f"store written by DuckDB {duckdb.__version__}")
        for v in versions:
            env = Path(tmp) / f"duckdb-{v}"
            venv.create(env, with_pip=True)
            py = env / "bin" / "python"
            inst = subprocess.run([str(py), "-m", "pip", "install", "-q", f"duckdb=={v}"],
                                  capture_output=True, text=True)
            if inst.returncode != 0:
                print(f"DuckDB {v}: could not install ({inst.stderr.strip().splitlines()[-1:]})")
                continue
            res = subprocess.run([str(py), "-c", READ_EVERY_TABLE, str(store)], capture_output=True, text=True)
            if res.returncode == 0:
                ver, n_tables, n_samples = res.stdout.split()
                print(f"DuckDB {ver}: opens the store, reads {n_tables} tables ({n_samples} samples)")
            else:
                print(f"DuckDB {v}: REFUSES the store: {res.stderr.strip().splitlines()[-1][:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
