"""`workbench export-parquet`: the store's tables as Hive-partitioned Parquet, read back by DuckDB
and by pyarrow.dataset row for row; partial (--run) exports, the manifest, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from workbench.analysis.pipeline import analyze_store
from workbench.cli import main
from workbench.demo import DEMO_FILE
from workbench.ingest import import_paths
from workbench.parquet_export import MANIFEST
from workbench.store import connect
from workbench.store.parquet import store_tables


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Two analysed runs of the demo traces (with images), one with a number-like run id, and a tag."""
    db = tmp_path / "store.duckdb"
    import_paths([DEMO_FILE], db, run="demo A", progress=False)
    import_paths([DEMO_FILE], db, run="2024", progress=False)
    analyze_store(db, progress=False, workers=1)
    with connect(db) as con:
        con.execute("INSERT INTO tags (run_id, sample_id, step_index, tag, note) "
                    "VALUES ('2024', 'clean-bar', 1, 'look', 'quote '' and \"double\"')")
    return db


def store_rows(db: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table's columns and rows (ordered), as the store holds them."""
    with connect(db) as con:
        out = {}
        for t in store_tables(con):
            cols = [c for c, _ in t.columns]
            out[t.name] = (cols, con.execute(f"SELECT * FROM {t.name} ORDER BY ALL").fetchall())
        return out


def test_export_reads_back_row_for_row_with_duckdb_and_pyarrow(store, tmp_path, capsys):
    out = tmp_path / "lake"
    assert main(["export-parquet", str(out), "--db", str(store), "--image-blobs"]) == 0
    assert "wrote" in capsys.readouterr().out
    expected = store_rows(store)
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["tables"]) == set(expected) and manifest["runs"] == "all"
    # Hive layout: one folder per run for every table with a run_id, one file for the others.
    assert sorted(p.name for p in (out / "flags").iterdir()) == ["run_id=2024", "run_id=demo-a"]
    assert (out / "images" / "data_0.parquet").exists()
    con = duckdb.connect()
    checked = 0
    for table, (cols, rows) in expected.items():
        assert manifest["tables"][table]["rows"] == len(rows), table
        if not rows:
            assert not (out / table).exists(), table
            continue
        partitioned = manifest["tables"][table]["partitioned"]
        select = ", ".join(f'"{c}"' for c in cols)
        got = con.execute(
            f"SELECT {select} FROM read_parquet(?, hive_partitioning = {partitioned}"
            + (", hive_types = {'run_id': 'VARCHAR'}" if partitioned else "") + ") ORDER BY ALL",
            [str(out / table / "**" / "*.parquet")]).fetchall()
        assert got == rows, f"DuckDB read of {table}"
        part = ds.partitioning(pa.schema([("run_id", pa.string())]), flavor="hive") if partitioned else None
        table_ds = ds.dataset(out / table, format="parquet", partitioning=part)
        arrow_rows = [tuple(r[c] for c in cols) for r in table_ds.to_table().to_pylist()]
        assert _ordered(arrow_rows) == _ordered(rows), f"pyarrow read of {table}"
        checked += 1
    assert checked >= 8   # runs, samples, images, image_blobs, steps, trace_stats, flags, analysis_status, tags


def _ordered(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda row: tuple((v is None, str(v)) for v in row))


def test_run_export_replaces_only_that_runs_partitions(store, tmp_path):
    out = tmp_path / "lake"
    assert main(["export-parquet", str(out), "--db", str(store)]) == 0
    assert not (out / "image_blobs").exists()      # image bytes only on request
    before_2024 = sorted(p.read_bytes() for p in (out / "flags" / "run_id=2024").rglob("*.parquet"))
    with connect(store) as con:   # run demo-a loses its findings, 2024 changes too but is not exported
        con.execute("DELETE FROM flags WHERE run_id = 'demo-a'")
        con.execute("DELETE FROM flags WHERE run_id = '2024' AND detector = 'repetition_loop'")
    assert main(["export-parquet", str(out), "--db", str(store), "--run", "demo A"]) == 0
    assert not (out / "flags" / "run_id=demo-a").exists()
    assert sorted(p.read_bytes() for p in (out / "flags" / "run_id=2024").rglob("*.parquet")) == before_2024
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["runs"] == ["demo-a"] and "samples" in manifest["tables"]
    # a full export again: the store as it is now
    assert main(["export-parquet", str(out), "--db", str(store)]) == 0
    n = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
                                 [str(out / "flags" / "**" / "*.parquet")]).fetchone()[0]
    with connect(store) as con:
        assert n == con.execute("SELECT count(*) FROM flags").fetchone()[0]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]   # no staging left behind


def test_refuses_a_folder_that_is_not_an_export_and_unknown_tables(store, tmp_path, capsys):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"x")
    assert main(["export-parquet", str(other), "--db", str(store)]) == 2
    assert "not empty" in capsys.readouterr().err and (other / "cat.jpg").exists()
    assert main(["export-parquet", str(tmp_path / "x"), "--db", str(store), "--tables", "flags,nope"]) == 2
    assert "no table nope" in capsys.readouterr().err
    assert main(["export-parquet", str(tmp_path / "y"), "--db", str(store), "--tables", "flags"]) == 0
    assert sorted(p.name for p in (tmp_path / "y").iterdir()) == [MANIFEST, "flags"]
