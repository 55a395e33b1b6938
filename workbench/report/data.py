"""What a failure report shows, read from the store on the read-only, locked-down path.

The `--filter` is a WHERE condition over the `samples` export view (workbench/exporting.py), so it runs
on the console's read-only connection with external access disabled: it cannot write or read files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from workbench.analysis import registry
from workbench.exporting import export_table
from workbench.store import clusters as store_clusters
from workbench.store.console import check_filter, locked_connection
from workbench.store.exports import FIRST_IMAGE, RUN_INFO
from workbench.store.probes import probe_maps_path
from workbench.store.runs import resolve_run


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
        run_id = resolve_run(con, run)
        row = con.execute(RUN_INFO, [run_id]).fetchone()
    info = dict(zip(["run_id", "name", "model", "source", "settings"], row))
    info["settings"] = json.loads(info["settings"]) if isinstance(info["settings"], str) else info["settings"]
    samples = export_table("samples", db, run=run_id, where=where).to_pylist()
    ids = {s["sample_id"] for s in samples}
    flags = [f for f in export_table("flags", db, run=run_id).to_pylist() if f["sample_id"] in ids]
    steps = [s for s in export_table("steps", db, run=run_id, where="n_flags > 0").to_pylist() if s["sample_id"] in ids]
    graded = [s["correct"] for s in samples if s["correct"] is not None]
    with_image = [s for s in samples if (s.get("n_images") or 0) > 0]
    rates = {}
    for spec in registry.specs():
        pool = with_image if spec.requires_image else samples
        pool_ids = {s["sample_id"] for s in pool}
        hit = {f["sample_id"] for f in flags if f["detector"] == spec.name and f["sample_id"] in pool_ids}
        rates[spec.name] = len(hit) / len(pool) if pool else 0.0
    flagged_ids = sorted({f["sample_id"] for f in flags})
    data = ReportData(info, len(samples), len(flagged_ids), sum(graded) / len(graded) if graded else None,
                      where, rates)
    by_id = {s["sample_id"]: s for s in samples}
    with locked_connection(db) as con:
        data.cluster_run_id = store_clusters.newest_for_run(con, run_id)
        if data.cluster_run_id:
            data.clusters = store_clusters.clusters_of_run(con, data.cluster_run_id, run_id)
        for sid in flagged_ids[:max_failures]:
            s = by_id[sid]
            img = con.execute(FIRST_IMAGE, [run_id, sid]).fetchone()
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
    maps_path = probe_maps_path(con, run_id, sample_id)
    if maps_path is None:
        return None
    from pathlib import Path

    from workbench.config import setting
    from workbench.errors import WorkbenchError
    from workbench.probe import maps
    from workbench.viz import overlay
    try:
        pf = maps.read(Path(setting("probe_dir")).expanduser() / maps_path)
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
