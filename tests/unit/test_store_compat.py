"""New stores are written in a storage format DuckDB 1.x reads; existing stores keep theirs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from workbench.store import connect


def storage_version(path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE NOT internal AND database_name NOT IN "
                           "('memory', 'temp', 'system')").fetchone()[0]
    finally:
        con.close()
    return tags.get("storage_version", "")


@pytest.mark.skipif(tuple(int(p) for p in duckdb.__version__.split(".")[:2]) < (1, 2),
                    reason="DuckDB < 1.2 writes the 1.x storage format anyway and reports no storage version")
def test_new_store_uses_a_1x_storage_format_and_old_stores_keep_theirs(tmp_path):
    new = tmp_path / "new.duckdb"
    with connect(new) as con:
        con.execute("SELECT count(*) FROM samples").fetchone()
    assert storage_version(new).startswith("v1.")
    # a store created by this DuckDB's default (newest) format opens and keeps its format
    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()
    default = storage_version(old)
    with connect(old) as con:
        con.execute("SELECT count(*) FROM runs").fetchone()
    assert storage_version(old) == default


def test_store_opens_in_duckdb_1x(tmp_path):
    """With the DuckDB 1.x that scripts/setup.sh installs in .venv/duckdb1 (or $WORKBENCH_DUCKDB1_PYTHON)."""
    py = os.environ.get("WORKBENCH_DUCKDB1_PYTHON") or str(Path(__file__).resolve().parents[2] / ".venv" / "duckdb1"
                                                             / "bin" / "python")
    if not Path(py).exists():
        pytest.skip(f"no DuckDB 1.x python at {py}: run scripts/setup.sh (make test does)")
    db = tmp_path / "s.duckdb"
    with connect(db) as con:
        con.execute("INSERT INTO runs (run_id, name) VALUES ('r', 'r')")
    out = subprocess.run([py, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                          "print(duckdb.__version__, c.execute('SELECT name FROM runs').fetchone()[0])", str(db)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    version, name = out.stdout.split()
    assert version.startswith("1.") and name == "r"
