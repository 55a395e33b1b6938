"""Clusters page components: named queries over the 0004 cluster tables, the 2-D map figure and the
report download. Pure builders (no st.*) except `report_html`, which only reads the store."""

from __future__ import annotations

import html
import json

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from workbench import urls


def trace_link(run_id: str, sample_id: str, step: object = None) -> str:
    """Relative link to the app's trace page (same form as the Failures page's links)."""
    return urls.trace_path(run_id, sample_id, None if step is None or pd.isna(step) else int(step))


def mix_text(mix: object, top: int = 3) -> str:
    """'repetition_loop:loop 67%, ...' from the failure_mix JSON."""
    d = json.loads(mix) if isinstance(mix, str) else (mix or {})
    return ", ".join(f"{k} {v:.0%}" for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:top])


def cluster_table(clusters: pd.DataFrame) -> pd.DataFrame:
    """The table shown on the page: label, size, accuracy, failure mix."""
    out = clusters[["cluster_id", "label", "size", "accuracy"]].copy()
    out["failure mix"] = [mix_text(m) for m in clusters["failure_mix"]]
    return out


def cluster_map(members: pd.DataFrame) -> go.Figure:
    """Scatter of the units' 2-D coordinates, colour = cluster, hover = escaped excerpt."""
    df = members.copy()
    df["cluster"] = [html.escape(f"{c}: {lbl[:40]}") for c, lbl in zip(df["cluster_id"], df["label"])]
    df["sample_id"] = [html.escape(str(v)) for v in df["sample_id"]]
    # Plotly renders hover text as HTML-ish markup: escape trace text and wrap long lines.
    df["excerpt_html"] = ["<br>".join(html.escape((t or "")[i:i + 80]) for i in range(0, min(len(t or ""), 240), 80))
                          for t in df["excerpt"]]
    fig = px.scatter(df, x="x", y="y", color="cluster", hover_data={"x": False, "y": False, "cluster": True,
                     "sample_id": True, "step_index": True, "excerpt_html": True},
                     labels={"excerpt_html": "excerpt"}, render_mode="svg")
    fig.update_traces(marker=dict(size=8, opacity=0.8))
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=30, b=10), legend_title_text="cluster",
                      xaxis_title="", yaxis_title="")
    return fig


def sizes_by_run_chart(sizes: pd.DataFrame) -> go.Figure:
    """Grouped bars: units per cluster in each run (compare cluster sizes between runs)."""
    df = sizes.copy()
    df["cluster"] = [html.escape(f"{c}: {lbl[:30]}") for c, lbl in zip(df["cluster_id"], df["label"])]
    df["run_id"] = [html.escape(str(v)) for v in df["run_id"]]
    fig = px.bar(df, x="cluster", y="units", color="run_id", barmode="group")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), legend_title_text="run", xaxis_title="")
    return fig


def report_html(db: str, run_id: str) -> bytes:
    """The run's self-contained HTML failure report (workbench.report), for the download button."""
    from workbench.report.data import load_report
    from workbench.report.render import render_html
    return render_html(load_report(db, run_id)).encode("utf-8")
