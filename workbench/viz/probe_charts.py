"""Plotly figures of the probe (pure: data frames in, figures out)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

_OUTCOME = {"correct": "#188038", "wrong": "#d93025", "ungraded": "#5f6368"}


def grounding_curve(steps: pd.DataFrame, flags: pd.DataFrame, selected: int | None = None) -> go.Figure:
    """Attention share on the image and visual dependence per step, model-tier findings marked.
    steps: probe_steps rows; flags: the sample's findings (model tiers are drawn)."""
    fig = go.Figure()
    fig.add_scatter(x=steps["step_index"], y=steps["image_attention_share"], name="attention on image (share)",
                    mode="lines+markers", line_color="#188038",
                    hovertemplate="step %{x}<br>attention share %{y:.3f}<extra></extra>")
    if steps["visual_dependence"].notna().any():
        fig.add_scatter(x=steps["step_index"], y=steps["visual_dependence"], name="visual dependence (nats/token)",
                        mode="lines+markers", line_color="#9334e6", yaxis="y2",
                        hovertemplate="step %{x}<br>visual dependence %{y:.3f}<extra></extra>")
    model = flags[flags["tier"].isin(["attention", "visual_dependence"])] if not flags.empty else flags
    for _, f in model.iterrows():
        if pd.notna(f["step_index"]):
            fig.add_vrect(x0=float(f["step_index"]) - 0.5, x1=float(steps["step_index"].max()) + 0.5,
                          fillcolor="#d93025", opacity=0.08, line_width=0)
            fig.add_vline(x=float(f["step_index"]), line_color="#d93025", line_dash="dash",
                          annotation_text=f"{f['tier']} loss", annotation_position="top left")
    if selected is not None:
        fig.add_vline(x=selected, line_color="#f9ab00", line_width=3)
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10), title="Grounding along the trace (probe)",
                      xaxis_title="step (click a point to see its overlay)", yaxis_title="attention share",
                      yaxis2=dict(overlaying="y", side="right", showgrid=False, title="visual dependence"),
                      legend=dict(orientation="h", y=-0.3), clickmode="event+select")
    return fig


def reliance_by_position(curve: pd.DataFrame) -> go.Figure:
    """Run summary: image reliance vs relative position in the trace, by outcome."""
    fig = go.Figure()
    for outcome, g in curve.groupby("outcome"):
        color = _OUTCOME.get(str(outcome), "#5f6368")
        fig.add_scatter(x=g["position"], y=g["relative_attention"], name=f"attention, {outcome}", mode="lines+markers",
                        line_color=color, customdata=g["traces"],
                        hovertemplate="%{x:.0%} of the trace<br>attention %{y:.2f} x early level<br>"
                                      "%{customdata} traces<extra></extra>")
        if g["visual_dependence"].notna().any():
            fig.add_scatter(x=g["position"], y=g["visual_dependence"], name=f"visual dependence, {outcome}",
                            mode="lines", line=dict(color=color, dash="dot"), yaxis="y2")
    fig.add_hline(y=1, line_color="#9aa0a6", line_width=1)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10),
                      title="Image reliance vs position in the trace (probed traces)",
                      xaxis=dict(title="position in the trace", tickformat=".0%", range=[0, 1]),
                      yaxis_title="attention on image / early level",
                      yaxis2=dict(overlaying="y", side="right", showgrid=False, title="visual dependence (nats)"))
    return fig
