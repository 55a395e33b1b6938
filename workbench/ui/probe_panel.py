"""Trace-view panel of the probe: the image with an attention overlay for a step, token or token
range, the grounding curve along the trace, and a token strip where hovering shows each token's
map. Thin: data from the store and the probe file, pictures from workbench.viz.overlay."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from workbench.config import probe_dir
from workbench.errors import WorkbenchError
from workbench.store import probes as store_probes
from workbench.ui.data import cached_df
from workbench.ui.safe import md_text
from workbench.viz import overlay, probe_charts

if TYPE_CHECKING:
    from workbench.probe.maps import ProbeFile

HOVER_TOKENS = 400   # tokens in the hover strip (the selected step's first ones)


@st.cache_resource(show_spinner=False, max_entries=16)
def _read_probe_file(path: str, mtime: float) -> ProbeFile:  # mtime: the cache key only
    from workbench.probe import maps
    return maps.read(Path(path))


def probe_file(maps_path: str) -> ProbeFile:
    from workbench.ui.data import db_path
    path = probe_dir(db_path()) / maps_path
    mtime = os.path.getmtime(path) if path.exists() else 0.0
    return _read_probe_file(str(path), mtime)


def probe_rows(run_id: str, sample_id: str) -> tuple[pd.Series | None, pd.DataFrame]:
    pt = cached_df(store_probes.PROBE_TRACE, [run_id, sample_id])
    if pt.empty:
        return None, pd.DataFrame()
    return pt.iloc[0], cached_df(store_probes.PROBE_STEPS, [run_id, sample_id])


def _select_step_from_curve(key: str, run_id: str, sample_id: str) -> None:
    """on_select callback of the grounding curve: a clicked point selects that step."""
    state = st.session_state.get(f"{key}_probe_curve")
    points = (state or {}).get("selection", {}).get("points", []) if state else []
    if points:
        step = round(float(points[0]["x"]))
        st.session_state[f"{key}_step"] = step
        st.query_params.update({"run": run_id, "sample": sample_id, "step": str(step)})


def show(sample: pd.Series, flags: pd.DataFrame, images: pd.DataFrame, selected: int | None, key: str) -> None:
    run_id, sample_id = sample["run_id"], sample["sample_id"]
    st.subheader("Look inside: attention on the image (probe)")
    pt, ps = probe_rows(run_id, sample_id)
    if pt is None:
        st.info("This trace has not been probed. Probe it with the model that wrote it (attention on the image "
                "and visual dependence per step, with overlays here), e.g.:")
        import shlex  # the command as plain text (st.code): ids are data, never Markdown
        st.code(f"workbench probe --run {shlex.quote(run_id)} --sample {shlex.quote(sample_id)} --model PATH",
                language=None)
        return
    if pt["status"] != "ok":
        st.warning(md_text(f"The probe {pt['status']} this sample: {pt['error']}"))
        return
    try:
        pf = probe_file(pt["maps_path"])
    except WorkbenchError as exc:
        st.error(md_text(exc))
        return
    st.caption(md_text(f"{int(pt['n_tokens']):,} tokens ({pt['token_source']}) · "
               f"{int(pt['n_image_tokens'])} image tokens · "
               f"layers {', '.join(map(str, pf.layers))} · model {pt['model']} · "
               f"attention share {pt['early_image_share']:.3f} in the first 20% → {pt['late_image_share']:.3f} "
               "in the last 20%" + (f" · visual dependence {pt['early_visual_dependence']:.3f} → "
                                    f"{pt['late_visual_dependence']:.3f} nats/token"
                                    if pd.notna(pt["early_visual_dependence"]) else "")))
    st.caption("The attention tier of grounding_loss compares each step's *lift* (share ÷ the share uniform "
               "attention would give), so the share's natural fall as the trace grows is not read as forgetting.")
    st.plotly_chart(probe_charts.grounding_curve(ps, flags, selected), key=f"{key}_probe_curve",
                    on_select=lambda: _select_step_from_curve(key, run_id, sample_id), selection_mode="points")

    present = images[~images["missing"].astype(bool) & images["data"].notna()] if not images.empty else images
    if present.empty:
        st.warning("The image of this sample is not in the store: no overlay to draw.")
        return
    grid = pf.grids[0]
    step_ids = list(pf.meta.get("step_index", range(len(pf.step_tokens))))
    with_tokens = [s for k, s in enumerate(step_ids) if pf.step_tokens[k, 1] > pf.step_tokens[k, 0]]
    step = selected if selected in with_tokens else (with_tokens[0] if with_tokens else None)

    c1, c2, c3, c4, c5 = st.columns([2, 3, 2, 2, 2])
    mode = c1.radio("Overlay of", ["step", "token range"], key=f"{key}_probe_mode", horizontal=True)
    layers = pf.layers
    lo, hi = (c2.select_slider("Layers", options=layers, value=(layers[0], layers[-1]), key=f"{key}_probe_layers")
              if len(layers) > 1 else (layers[0], layers[0]))
    chosen_layers = [li for li in layers if lo <= li <= hi]
    head_opts = ["mean", "max"] if pf.step_maps_max is not None else ["mean"]
    heads = c3.radio("Heads", head_opts, key=f"{key}_probe_heads", horizontal=True,
                     help="max over heads is kept when probed with --head-max")
    opacity = c4.slider("Opacity", 0.0, 1.0, 0.55, 0.05, key=f"{key}_probe_opacity")
    cmap = c5.selectbox("Colormap", overlay.COLORMAPS, key=f"{key}_probe_cmap")

    n_tok = len(pf.token_scale)
    if mode == "step":
        if step is None:
            st.info("No step of this trace has tokens.")
            return
        k = step_ids.index(step)
        a, b = int(pf.step_tokens[k, 0]), int(pf.step_tokens[k, 1])
        values = pf.step_map(k, chosen_layers, heads)
        what = (f"step {step} (tokens {a}–{b - 1}), layers {lo}–{hi}, head {heads}"
                + ("" if selected == step else " — select a step above, or click a point of the curve"))
    else:
        da, db = (int(pf.step_tokens[step_ids.index(step), 0]), int(pf.step_tokens[step_ids.index(step), 1])) \
            if step is not None else (0, min(n_tok, 50))
        a, b = st.slider("Tokens", 0, n_tok, (da, db), key=f"{key}_probe_tokens",
                         help="token maps are averaged over all probed layers, head mean")
        if b <= a:
            st.info("Choose a range of at least one token.")
            return
        values = pf.token_map(a, b)
        what = f"tokens {a}–{b - 1}, all probed layers, head mean"
    im_bytes = bytes(present.iloc[0]["data"])
    left, right = st.columns([2, 3])
    with left:
        try:
            pic = overlay.render_overlay(im_bytes, grid, values, opacity=opacity, cmap=cmap, max_side=900)
        except ValueError as exc:   # e.g. the stored image changed since the probe
            st.error(md_text(f"Cannot draw the overlay: {exc}.") + " Re-probe this sample (`workbench probe --force`).")
            return
        cells = overlay.cell_values(grid, values)
        r, c = np.unravel_index(int(np.argmax(cells)), cells.shape)
        x0, y0, x1, y1 = grid.cell_box(int(r), int(c))
        share = float(cells.sum())
        st.image(overlay.png_bytes(pic), caption=f"Attention over the image: {what}. Hottest cell row {r}, col {c} "
                                                 f"(pixels {x0:.0f}–{x1:.0f} × {y0:.0f}–{y1:.0f}); "
                                                 + (f"share on this image {share:.3f}." if heads == "mean" or
                                                    mode != "step" else "largest head per cell."),
                 output_format="PNG")
    with right:
        response = sample["response"] or ""
        end = min(b, a + HOVER_TOKENS)
        texts = [response[int(s0):int(s1)] for s0, s1 in pf.token_spans[a:end]]
        st.markdown(f"**Hover a token to see its map** (tokens {a}–{end - 1}"
                    + (f"; first {HOVER_TOKENS} shown" if b > end else "") + ")")
        html = overlay.token_hover_html(im_bytes, grid, texts, pf.token_maps[a:end], first_token=a,
                                        opacity=opacity, cmap=cmap)
        st.iframe(html, height=460)


def reliance_section(run_ids: list[str]) -> None:
    """Overview: the runs' image reliance vs position in the trace (probed traces only)."""
    if not run_ids:
        return
    curve = cached_df(store_probes.RELIANCE_CURVE, [list(run_ids)])
    st.subheader("Image reliance along the trace (probe)")
    if curve.empty:
        st.caption("No probed traces in the selected runs: `workbench probe --run RUN --model PATH` measures "
                   "attention on the image and visual dependence along each trace.")
        return
    n = int(curve.groupby("run_id")["traces"].max().sum())
    st.caption(f"Mean over {n} probed trace(s); attention is relative to each trace's own first 20% "
               "(1 = as much as at the start).")
    st.plotly_chart(probe_charts.reliance_by_position(curve), key="overview_reliance")
