"""Clustering speed and purity: the flagged steps of the whole dev set (imported and analysed first).
Purity against detector:severity = share of units whose detector:severity is their cluster's most
common one (1.00 = the clusters only restate the detector; features are the flagged text alone).

    .venv/bin/python bench/cluster.py [STORE]     # an analysed store; default: build one from ../shared
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "data" / "qvq-traces" / "dev.jsonl"


def main() -> int:
    from workbench.cluster import run_clustering
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            db = Path(sys.argv[1])
        else:
            if not DEV.exists():
                print(f"skipped: {DEV} not found (the real traces live in ../shared)")
                return 0
            db = Path(tmp) / "dev.duckdb"
            wb = [sys.executable, "-m", "workbench.cli"]
            subprocess.run([*wb, "import", str(DEV), "--db", str(db)], check=True, capture_output=True)
            subprocess.run([*wb, "analyze", "--db", str(db)], check=True, capture_output=True)
        for method in ("hdbscan", "kmeans"):
            t = time.perf_counter()
            res = run_clustering(db, unit="step", method=method, seed=0)
            sec = time.perf_counter() - t
            n = int((res.clusters["cluster_id"] >= 0).sum())
            print(f"{method:8} {len(res.units):6d} flagged steps -> {n:3d} clusters in {sec:5.1f} s "
                  f"(target < 60 s: {'met' if sec < 60 else 'NOT met'}); purity against detector:severity "
                  f"{res.params.get('purity_detector_severity', float('nan')):.2f}")
            for _, c in res.clusters.sort_values("size", ascending=False).iterrows():
                print(f"    [{c['cluster_id']:>2}] {c['size']:>5}  {c['label']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
