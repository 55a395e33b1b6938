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
from workbench.store.console import check_filter, locked_connection

DETECTORS = ("language_mixing", "repetition_loop", "grounding_loss")


@dataclass
class Failure:
    sample: dict                      # samples export row
    steps: list[dict]                 # the offending (flagged) steps, with text
    flags: list[dict]
    image: tuple[str, str, bytes] | None = None   # (image_id, format, bytes)
    overlay: tuple[str, bytes] | None = None       # (caption, PNG): the probe's attention at one step


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
    if where:
        check_filter(where)  # refuse a bad --filter before reading anything (export_table applies it)
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
            sample_flags = [f for f in flags if f["sample_id"] == sid]
            data.failures.append(Failure(
                s, [st for st in steps if st["sample_id"] == sid], sample_flags, image,
                probe_overlay(con, run_id, sid, sample_flags, image[2] if image else None)))
    return data


def probe_overlay(con, run_id: str, sample_id: str, flags: list[dict], image: bytes | None):  # noqa: ANN001,ANN201
    """The probe's attention overlay for a report: at the onset of a model-tier grounding finding,
    else at the first flagged step, else the first step with tokens. None when not probed."""
    if image is None:
        return None
    row = con.execute("SELECT maps_path FROM probe_traces WHERE run_id = ? AND sample_id = ? AND status = 'ok'",
                      [run_id, sample_id]).fetchone()
    if row is None:
        return None
    from pathlib import Path

    from workbench.config import setting
    from workbench.errors import WorkbenchError
    from workbench.probe import maps
    from workbench.viz import overlay
    try:
        pf = maps.read(Path(setting("probe_dir")).expanduser() / row[0])
    except WorkbenchError:
        return None
    order = list(pf.meta.get("step_index", range(len(pf.step_tokens))))
    has_tokens = [s for k, s in enumerate(order) if pf.step_tokens[k, 1] > pf.step_tokens[k, 0]]
    model = [f for f in flags if f.get("tier") in ("attention", "visual_dependence") and f.get("step_index") is not None]
    flagged = [f["step_index"] for f in sorted(flags, key=lambda f: (f.get("step_index") is None, f.get("step_index")))
               if f.get("step_index") is not None]
    candidates = [f["step_index"] for f in model] + flagged + has_tokens
    step = next((int(s) for s in candidates if s in has_tokens), None)
    if step is None:
        return None
    why = (f"onset of {model[0]['tier']} grounding loss" if model and model[0]["step_index"] == step else
           "first flagged step" if step in flagged else "first step")
    try:
        pic = overlay.render_overlay(image, pf.grids[0], pf.step_map(order.index(step)), opacity=0.55,
                                     cmap="inferno", max_side=480)
    except ValueError:
        return None
    return (f"Attention on the image at step {step} ({why}; layers {pf.layers[0]}–{pf.layers[-1]}, head mean)",
            overlay.png_bytes(pic))


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
