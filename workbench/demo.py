"""Build the demo store from data/demo/ (synthetic data written by the project)."""

from __future__ import annotations

from pathlib import Path

from workbench.config import DATA_DIR
from workbench.store import resolve_db_path

DEMO_FILE = DATA_DIR / "demo" / "demo.jsonl"
DEMO_RUN = "demo (synthetic)"


def build_demo(db: str | Path | None = None, *, progress: bool = False) -> str:
    """Import the demo run (idempotent) and analyse it; return its run id."""
    from workbench.ingest import import_paths
    summary = import_paths([DEMO_FILE], resolve_db_path(db), run=DEMO_RUN, progress=progress, synthetic=True)
    run_id = summary.run_ids[0]
    try:
        from workbench.analysis.pipeline import analyze_store
    except ImportError:
        return run_id
    analyze_store(resolve_db_path(db), runs=[run_id], progress=progress)
    return run_id


def cluster_demo(db: str | Path | None = None) -> None:
    """Cluster the demo run's flagged steps (k-means, 3 clusters) so the Clusters page and the report have
    something to show on a first start; a later `workbench cluster` adds its own clustering beside it."""
    from workbench.cluster import run_clustering
    run_clustering(resolve_db_path(db), runs=[DEMO_RUN], unit="step", method="kmeans", k=3, seed=0)
