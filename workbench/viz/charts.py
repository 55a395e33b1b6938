"""Plotly figures (pure functions of DataFrames).

Built with graph_objects from data aggregated here (histograms binned with numpy, bars one trace
per group), not with plotly.express: px costs 50-150 ms a figure to build and a histogram of raw
values ships every value to the browser (11,539 lengths on the dev set) for plotly.js to bin.
Vertical markers are layout shapes set at once (Figure.add_vline re-validates every shape on each
call: 20 flagged steps took 0.4 s). Axes have fixed margins instead of automargin (which Streamlit's
chart theme turns on): with automargin plotly.js lays each chart out again until its margins settle,
and on the overview that was about 0.7 s of the browser's time with four charts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench.analysis import registry
from workbench.ui.safe import plotly_text

PALETTE = ["#1a73e8", "#f29900", "#188038", "#d93025", "#9334e6", "#12b5cb", "#e52592", "#5f6368"]
_LAYOUT = dict(height=320, legend=dict(title=dict(text="")))
_MARGIN = dict(l=64, r=10, t=40, b=52)   # room for the y tick labels and title, and the x tick labels and title
_PLOT_WIDTH = 420                        # px of plot area of a chart in a half-width column (for label fitting)


def _axis(title: str = "", **kw: Any) -> dict:
    return dict(automargin=False, title=dict(text=title), **kw)


def _figure(traces: list, title: str, *, margin: dict | None = None, title_style: dict | None = None,
            **layout: Any) -> go.Figure:
    return go.Figure(data=traces, layout={**_LAYOUT, "title": {"text": title, **(title_style or {})},
                                          "margin": {**_MARGIN, **(margin or {})}, **layout})


def _category_axis(categories: Iterable[object], title: str) -> tuple[dict, int]:
    """An x axis for category labels and the bottom margin it needs: horizontal labels when they
    fit, else vertical ones cut to 18 characters, thinned out when crowded (the hover shows every
    bar's whole name)."""
    labels = [plotly_text(c) for c in dict.fromkeys(categories)]
    longest = max((len(x) for x in labels), default=1)
    if len(labels) * (7 * longest + 10) <= _PLOT_WIDTH:
        return _axis(title), _MARGIN["b"]
    step = -(-len(labels) // (_PLOT_WIDTH // 14))   # every step-th label, at most one per 14 px
    shown = labels[::step]
    short = [x if len(x) <= 18 else x[:17] + "…" for x in shown]
    return (_axis("", tickangle=-90, tickmode="array", tickvals=shown, ticktext=short),
            12 + 7 * max(len(x) for x in short))


def _colors(keys: Iterable[str], fixed: dict[str, str] | None = None) -> dict:
    fixed = fixed or {}
    return {k: fixed.get(k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(keys)}


def _vline(x: float, color: str, width: float = 1, dash: str = "solid", opacity: float = 1.0) -> dict:
    return dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1, opacity=opacity,
                line=dict(color=color, width=width, dash=dash))


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n (sensible for small n and rates near 0 or 1)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _errors(rates: list[float], ns: list[int]) -> dict:
    lo_hi = [wilson(r * n, n) for r, n in zip(rates, ns)]
    return dict(type="data", symmetric=False, array=[hi - r for r, (_, hi) in zip(rates, lo_hi)],
                arrayminus=[r - lo for r, (lo, _) in zip(rates, lo_hi)], thickness=1.2, width=3)


def _short(label: str, n: int = 38) -> str:
    """An escaped (Plotly reads HTML) label cut to `n` characters."""
    return plotly_text(label if len(label) <= n else label[: n - 1] + "…")


def flag_rate_by_subset(df: pd.DataFrame) -> go.Figure:
    """Horizontal bars, one row per subset (every label shown, however many), one bar per detector,
    with the rate's 95% interval and n in the hover. Image detectors are over samples with an image
    (subsets without images have no bar for them)."""
    colors = _colors(df["detector"].unique(), registry.colours())
    labels = registry.labels()
    order = (df.groupby("subset")["samples"].max().sort_values(ascending=True)).index.tolist()
    traces = []
    for det, g in df.groupby("detector", sort=False):
        g = g.set_index("subset").reindex(order).dropna(subset=["flag_rate"])
        rates, ns = g["flag_rate"].astype(float).tolist(), g["samples"].astype(int).tolist()
        traces.append(go.Bar(y=[_short(str(x)) for x in g.index], x=rates, orientation="h", name=labels.get(det, det),
                             marker_color=colors.get(det), error_x=_errors(rates, ns), customdata=ns,
                             hovertext=[plotly_text(x) for x in g.index],
                             hovertemplate="%{hovertext}: %{x:.1%} of %{customdata:,} samples flagged"
                                           "<extra>%{fullData.name}</extra>"))
    rows = len(order)
    return _figure(traces, "Flag rate per benchmark subset (bars: 95% interval; hover: n)", barmode="group",
                   # the legend may wrap to one row per detector in a half-width column: room for all of them
                   height=max(320, 140 + rows * (10 + 7 * len(traces))),
                   margin=dict(l=250, b=44, t=50 + 20 * len(traces)),
                   xaxis=_axis("samples flagged", tickformat=".0%", rangemode="tozero"),
                   yaxis=_axis("", categoryorder="array", categoryarray=[_short(str(x)) for x in order]),
                   legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0, title=dict(text="")),
                   title_style=dict(y=0.995, yanchor="top", yref="container"))


def accuracy_by_flag(df: pd.DataFrame) -> go.Figure:
    """Accuracy of samples with vs without each flag, with 95% intervals and n on every bar."""
    colors = _colors(df["status"].unique(), {"flagged": "#d93025", "not flagged": "#188038"})
    labels = registry.labels()
    traces = []
    for status, g in df.groupby("status", sort=False):
        acc, ns = g["accuracy"].astype(float).tolist(), g["samples"].astype(int).tolist()
        # "language<br>mixing": two short lines fit a half-width column without tilting into the axis
        traces.append(go.Bar(x=[labels.get(d, d).replace(" ", "<br>") for d in g["detector"]], y=acc, name=str(status),
                             marker_color=colors.get(status), error_y=_errors(acc, ns), customdata=ns,
                             text=[f"n={n:,}" for n in ns], textposition="inside", insidetextanchor="start",
                             textangle=0, textfont=dict(size=10), hovertext=[labels.get(d, d) for d in g["detector"]],
                             hovertemplate="%{hovertext}, %{fullData.name}: accuracy %{y:.1%} over "
                                           "%{customdata:,} samples<extra></extra>"))
    return _figure(traces, "Accuracy with vs without each flag (95% interval, n)", barmode="group",
                   yaxis=_axis("accuracy", tickformat=".0%", range=[0, 1.05]), xaxis=_axis("", tickangle=0),
                   margin=dict(b=48))


def _binned_bars(df: pd.DataFrame, group: str, start: str, width: pd.Series | float, count: str, colors: dict,
                 unit: str, fmt: str = ",.0f") -> list[go.Bar]:
    """One bar trace per group from pre-binned counts (binned in SQL from the summary tables, so only
    the counts reach the page and the browser)."""
    traces = []
    for k in colors:
        g = df[df[group] == k]
        lo = g[start].to_numpy(dtype=float)
        w = (g["width"].to_numpy(dtype=float) if isinstance(width, str) else np.full(len(g), float(width)))
        traces.append(go.Bar(x=lo + w / 2, y=g[count].to_numpy(), width=w, name=plotly_text(k), marker_color=colors[k],
                             opacity=0.75, customdata=np.stack([lo, lo + w], axis=1),
                             hovertemplate=f"%{{customdata[0]:{fmt}}}–%{{customdata[1]:{fmt}}} {unit}: "
                                           "%{y:,} traces<extra>%{fullData.name}</extra>"))
    return traces


def length_distribution(df: pd.DataFrame, token_cap: int | None = 4096) -> go.Figure:
    """Trace lengths per run from store.summary.LENGTH_BINS (run_id, unit, bin_start, width, traces)."""
    use_tokens = bool((df["unit"] == "tokens").any())
    unit = "tokens" if use_tokens else "characters"
    traces = _binned_bars(df, "run_id", "bin_start", "width", "traces", _colors(df["run_id"].unique()), unit)
    shapes, notes = [], []
    if token_cap:  # without token counts: ~4 characters a token in English marks where the cap lands
        x = token_cap if use_tokens else token_cap * 4
        shapes.append(_vline(x, "#d93025", dash="dash"))
        notes.append(dict(x=x, xref="x", y=1, yref="paper", showarrow=False, xanchor="left", yanchor="top",
                          text=f"cap {token_cap}" if use_tokens else f"≈ {token_cap}-token cap"))
    return _figure(traces, f"Trace length ({unit})", barmode="relative", bargap=0, shapes=shapes, annotations=notes,
                   xaxis=_axis(unit), yaxis=_axis("traces"))


def loop_onsets(df: pd.DataFrame) -> go.Figure:
    """Where loops start, from store.summary.ONSETS (severity, bin, loops): bins of 1/ONSET_BINS of the trace."""
    from workbench.store.summary import ONSET_BINS
    binned = df.assign(start=df["bin"].astype(float) / ONSET_BINS)
    traces = _binned_bars(binned, "severity", "start", 1.0 / ONSET_BINS, "loops",
                          _colors(df["severity"].unique(), registry.severity_colours()), "of the trace", fmt=".0%")
    for t in traces:
        t.hovertemplate = t.hovertemplate.replace("traces", "loops")
    return _figure(traces, "Where loops start (share of the trace)", barmode="relative", bargap=0,
                   xaxis=_axis("onset position in the trace", tickformat=".0%", range=[0, 1]),
                   yaxis=_axis("loops"))


def has_step_signals(steps: pd.DataFrame) -> bool:
    """Whether the per-step chart would show anything: image references, or probe curves."""
    refs = "image_ref_count" in steps and float(steps["image_ref_count"].fillna(0).sum()) > 0
    probe = any(c in steps and steps[c].notna().any() for c in ("image_attention_share", "visual_dependence"))
    return bool(refs or probe)


def step_signals(steps: pd.DataFrame, flagged_steps: list[int], selected: int | None = None) -> go.Figure:
    """Per-step signals along the trace: image-reference counts, and the probe's curves in a panel of
    their own below (two y axes side by side on one plot read as one scale)."""
    x = steps["step_index"].tolist()
    probe_cols = [(c, n, col) for c, n, col in (("image_attention_share", "attention on image", "#188038"),
                                                ("visual_dependence", "visual dependence", "#9334e6"))
                  if c in steps and steps[c].notna().any()]
    traces = [go.Bar(x=x, y=steps["image_ref_count"].tolist(), name="image references", marker_color="#1a73e8")]
    for col, name, color in probe_cols:
        traces.append(go.Scatter(x=x, y=steps[col].tolist(), name=name, mode="lines+markers", yaxis="y2",
                                 line=dict(color=color)))
    shapes = [_vline(s, "#d93025", opacity=0.5) for s in flagged_steps]
    if selected is not None:
        shapes.append(_vline(selected, "#f9ab00", width=3))
    layout = dict(height=200, margin=dict(l=56, r=20, t=30, b=44), title=dict(text="Signals along the trace"),
                  xaxis=_axis("step"), yaxis=_axis("image refs"), showlegend=True, shapes=shapes)
    if probe_cols:
        layout.update(height=320, yaxis=_axis("image refs", domain=[0.0, 0.42]),
                      yaxis2=_axis("probe", domain=[0.55, 1.0], anchor="x"))
    return go.Figure(data=traces, layout=layout)


def counts_bar(df: pd.DataFrame, x: str, color: str, title: str) -> go.Figure:
    colors = _colors(df[color].unique(), {**registry.colours(), **registry.severity_colours()})
    traces = [go.Bar(x=[plotly_text(v) for v in g[x]], y=g["findings"].tolist(), name=plotly_text(k),
                     marker_color=colors[k],
                     hovertemplate="%{x}: %{y:,} findings<extra>%{fullData.name}</extra>")
              for k, g in df.groupby(color, sort=False)]
    xaxis, bottom = _category_axis(df[x], x)
    return _figure(traces, title, barmode="relative", margin=dict(b=bottom), xaxis=xaxis, yaxis=_axis("findings"))
