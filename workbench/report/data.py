"""What a failure report shows, read from the store in bounded memory.

Counts and flag rates are computed in DuckDB over the filtered samples; only the samples the report
shows in full are read row by row. Reads go through `store.exports.export_connection` (read-only, no
file access, its own memory budget and spill folder); the `--filter` is a WHERE condition over the
`samples` export view, checked by `store.exports.checked_filter` first.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import duckdb

from workbench.analysis import registry
from workbench.store import clusters as store_clusters
from workbench.store import reports as store_reports
from workbench.store.exports import FIRST_IMAGE, RUN_INFO, checked_filter, export_connection
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
    n_graded: int = 0
    n_with_image: int = 0
    rate_counts: dict[str, tuple[int, int]] = field(default_factory=dict)   # detector: (flagged, denominator)


def load_report(db: str | os.PathLike | None, run: str, *, where: str | None = None,
                max_failures: int = 20) -> ReportData:
    """Gather the run summary, flag rates (image detectors: over samples with an image), clusters and the
    first `max_failures` flagged samples (by id) of the filtered run."""
    where_sql = checked_filter(where) if where else ""
    with export_connection(db) as con:
        run_id = resolve_run(con, run)
        row = con.execute(RUN_INFO, [run_id]).fetchone()
        info = dict(zip(["run_id", "name", "model", "source", "settings"], row))
        info["settings"] = json.loads(info["settings"]) if isinstance(info["settings"], str) else info["settings"]
        try:
            counts = store_reports.summary(con, run_id, where_sql)
            by_detector = store_reports.flagged_by_detector(con, run_id, where_sql)
            ids = store_reports.first_flagged(con, run_id, where_sql, max_failures)
        except duckdb.Error as exc:
            from workbench.exporting import query_error
            raise query_error(exc) from None
        rates, rate_counts = {}, {}
        for spec in registry.specs():
            flagged, flagged_img = by_detector.get(spec.name, (0, 0))
            n, pool = (flagged_img, counts["with_image"]) if spec.requires_image else (flagged, counts["samples"])
            rates[spec.name] = n / pool if pool else 0.0
            rate_counts[spec.name] = (n, pool)
        data = ReportData(info, counts["samples"], counts["flagged"],
                          counts["correct"] / counts["graded"] if counts["graded"] else None, where, rates,
                          n_graded=counts["graded"], n_with_image=counts["with_image"], rate_counts=rate_counts)
        data.cluster_run_id = store_clusters.newest_for_run(con, run_id)
        if data.cluster_run_id:
            data.clusters = store_clusters.clusters_of_run(con, data.cluster_run_id, run_id)
        if not ids:
            return data
        samples = {s["sample_id"]: s for s in store_reports.rows_of(con, "samples", run_id, ids)}
        flags = store_reports.rows_of(con, "flags", run_id, ids)
        steps = store_reports.rows_of(con, "steps", run_id, ids, " AND v.n_flags > 0")
        for sid in ids:
            img = con.execute(FIRST_IMAGE, [run_id, sid]).fetchone()
            image = (img[0], (img[1] or "png").lower(), bytes(img[2])) if img else None
            sample_flags = [f for f in flags if f["sample_id"] == sid]
            data.failures.append(Failure(
                samples[sid], [st for st in steps if st["sample_id"] == sid], sample_flags, image,
                probe_overlay(con, run_id, sid, sample_flags, image[2] if image else None, db)))
    return data


def probe_overlay(con: duckdb.DuckDBPyConnection, run_id: str, sample_id: str, flags: list[dict],
                  image: bytes | None, db: str | os.PathLike | None = None) -> tuple[str, bytes] | None:
    """The probe's attention overlay for a report: at the onset of a model-tier grounding finding,
    else at the first flagged step, else the first step with tokens. None when not probed."""
    if image is None:
        return None
    maps_path = probe_maps_path(con, run_id, sample_id)
    if maps_path is None:
        return None

    from workbench.config import probe_dir
    from workbench.errors import WorkbenchError
    from workbench.probe import maps
    from workbench.viz import overlay
    try:
        pf = maps.read(probe_dir(db) / maps_path)
    except WorkbenchError:
        return None
    order = list(pf.meta.get("step_index", range(len(pf.step_tokens))))
    has_tokens = [s for k, s in enumerate(order) if pf.step_tokens[k, 1] > pf.step_tokens[k, 0]]
    model = [f for f in flags
             if f.get("tier") in ("attention", "visual_dependence") and f.get("step_index") is not None]
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
