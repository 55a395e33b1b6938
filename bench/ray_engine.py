"""Ray engine vs local engine: analyse MB/s on the dev set, and the partitioned Parquet export.

    .venv/bin/python bench/ray_engine.py [PATH] [--cpus N]

(Not bench/ray.py: a script named ray.py would shadow the ray package for its own imports.)

Imports PATH (default: the dev set in ../shared) into a temporary store, copies it, then times
`analyze` with the local engine (N worker processes) on one copy and with the Ray engine on a
local Ray instance of N CPUs on the other (Ray's start-up timed apart), checks that both wrote
the same rows, and times `export-parquet` of the analysed store. MB/s are of the JSONL file, as
in bench/analyze.py. Needs the `ray` extra.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"


def rows(db: Path) -> dict[str, int]:
    from workbench.store import connect
    with connect(db) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("flags", "steps", "trace_stats", "analysis_status")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()
    if not args.path.exists():
        print(f"skipped: {args.path} not found (the real traces live in ../shared)")
        return 0
    from workbench.analysis import pipeline
    from workbench.analysis.pipeline import analyze_store
    from workbench.analysis.ray_engine import analyze_store_ray, ray_session
    from workbench.ingest import import_paths
    from workbench.parquet_export import export_parquet
    from workbench.store import connect
    from workbench.store.parquet import export_pending_samples
    mb = args.path.stat().st_size / 1e6
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        local, ray_db = tmp / "local.duckdb", tmp / "ray.duckdb"
        import_paths([args.path], local, progress=False)
        shutil.copy(local, ray_db)
        print(f"{args.path.name}: {mb:.1f} MB; {args.cpus} CPUs for each engine")

        t = time.perf_counter()
        analyze_store(local, workers=args.cpus, progress=False)
        t_local = time.perf_counter() - t
        print(f"  local engine   : {t_local:6.1f} s  {mb / t_local:5.1f} MB/s")

        _versions, todo, _ = pipeline.plan(ray_db, None, None, False)
        t = time.perf_counter()
        with connect(ray_db) as con:
            export_pending_samples(con, todo, pipeline.CHUNK, tmp / "pending")
        t_export = time.perf_counter() - t
        shutil.rmtree(tmp / "pending")

        t = time.perf_counter()
        with ray_session(num_cpus=args.cpus):
            t_start = time.perf_counter() - t
            t = time.perf_counter()
            analyze_store_ray(ray_db, progress=False, export_dir=str(tmp / "work"))
            t_ray = time.perf_counter() - t
        print(f"  ray engine     : {t_ray:6.1f} s  {mb / t_ray:5.1f} MB/s  (of which exporting the pending "
              f"samples {t_export:.1f} s), plus Ray's start-up {t_start:.1f} s "
              f"= {mb / (t_ray + t_start):.1f} MB/s end to end")
        a, b = rows(local), rows(ray_db)
        print(f"  same row counts: {a == b} {b}")

        t = time.perf_counter()
        res = export_parquet(local, tmp / "lake")
        t_lake = time.perf_counter() - t
        size = sum(p.stat().st_size for p in (tmp / "lake").rglob("*.parquet")) / 1e6
        print(f"  export-parquet : {t_lake:6.1f} s for {sum(res.rows.values())} rows in {len(res.rows)} tables "
              f"({size:.1f} MB of Parquet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
