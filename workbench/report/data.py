"""What a failure report shows, read from the store on the read-only, locked-down path.

The `--filter` is a WHERE condition over the `samples` export view (workbench/exporting.py), so it runs
on the console's read-only connection with external access disabled: it cannot write or read files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from workbench.errors import UsageError
from workbench.exporting import export_table
from workbench.store.console import locked_connection

DETECTORS = ("language_mixing", "repetition_loop", "grounding_loss")


@dataclass
class Failure:
    sample: dict                      # samples export row
    steps: list[dict]                 # the offending (flagged) steps, with text
    flags: list[dict]
    image: tuple[str, str, bytes] | None = None   # (image_id, format, bytes)


@dataclass
class ReportData:
    run: dict
    n_samples: int
    n_flagged: int
    accuracy: float | None
    filter: str | None
    flag_rates: dict[str, float]
    clusters: list[dict] = field(default_factory=list)     # with "representatives"
    cluster_run_id: str | None = None
    failures: list[Failure] = field(default_factory=list)


def load_report(db: str | os.PathLike | None, run: str, *, where: str | None = None,
                max_failures: int = 20) -> ReportData:
    """Gather the run summary, flag rates, clusters and the first `max_failures` flagged samples."""
    with locked_connection(db) as con:
        row = con.execute("SELECT run_id, name, model, source, settings, n_samples, n_correct, n_graded "
                          "FROM runs WHERE run_id = ? OR name = ? ORDER BY run_id LIMIT 1", [run, run]).fetchone()
        if row is None:
            known = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
            raise UsageError(f"no run {run!r} in the store (runs: {', '.join(known) or 'none'})")
    info = dict(zip(["run_id", "name", "model", "source", "settings", "n_samples", "n_correct", "n_graded"], row))
    info["settings"] = json.loads(info["settings"]) if isinstance(info["settings"], str) else info["settings"]
    run_id = info["run_id"]
    samples = export_table("samples", db, run=run_id, where=where).to_pylist()
    ids = {s["sample_id"] for s in samples}
    flags = [f for f in export_table("flags", db, run=run_id).to_pylist() if f["sample_id"] in ids]
    steps = [s for s in export_table("steps", db, run=run_id, where="n_flags > 0").to_pylist() if s["sample_id"] in ids]
    graded = [s["correct"] for s in samples if s["correct"] is not None]
    rates = {d: (len({f["sample_id"] for f in flags if f["detector"] == d}) / len(samples) if samples else 0.0)
             for d in DETECTORS}
    flagged_ids = sorted({f["sample_id"] for f in flags})
    data = ReportData(info, len(samples), len(flagged_ids), sum(graded) / len(graded) if graded else None,
                      where, rates)
    by_id = {s["sample_id"]: s for s in samples}
    with locked_connection(db) as con:
        _load_clusters(con, data, run_id)
        for sid in flagged_ids[:max_failures]:
            s = by_id[sid]
            img = con.execute(
                "SELECT i.image_id, i.format, b.data FROM (SELECT unnest(image_ids) AS image_id FROM samples "
                "WHERE run_id = ? AND sample_id = ?) u JOIN images i USING (image_id) "
                "JOIN image_blobs b USING (image_id) ORDER BY image_id LIMIT 1", [run_id, sid]).fetchone()
            image = (img[0], (img[1] or "png").lower(), bytes(img[2])) if img else None
            data.failures.append(Failure(
                s, [st for st in steps if st["sample_id"] == sid],
                [f for f in flags if f["sample_id"] == sid], image))
    return data


def _load_clusters(con, data: ReportData, run_id: str) -> None:
    """The newest clustering that covers this run (its clusters restricted to this run's members)."""
    cr = con.execute("SELECT cluster_run_id FROM cluster_runs WHERE list_contains(runs, ?) "
                     "ORDER BY created_at DESC, cluster_run_id LIMIT 1", [run_id]).fetchone()
    if cr is None:
        return
    data.cluster_run_id = cr[0]
    rows = con.execute(
        "SELECT c.cluster_id, c.label, c.accuracy, c.failure_mix, count(m.sample_id) AS n "
        "FROM clusters c JOIN cluster_members m USING (cluster_run_id, cluster_id) "
        "WHERE c.cluster_run_id = ? AND m.run_id = ? GROUP BY ALL ORDER BY n DESC, c.cluster_id",
        [cr[0], run_id]).fetchall()
    for cid, label, acc, mix, n in rows:
        reps = con.execute(
            "SELECT sample_id, step_index, excerpt FROM cluster_members WHERE cluster_run_id = ? AND cluster_id = ? "
            "AND run_id = ? AND representative ORDER BY distance, sample_id, step_index LIMIT 5",
            [cr[0], cid, run_id]).fetchall()
        data.clusters.append({"cluster_id": cid, "label": label, "accuracy": acc, "size": n,
                              "failure_mix": json.loads(mix) if isinstance(mix, str) else mix,
                              "representatives": [dict(zip(["sample_id", "step_index", "excerpt"], r)) for r in reps]})
