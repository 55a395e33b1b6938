"""Plotly figures (pure functions of DataFrames)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

DETECTOR_COLORS = {"language_mixing": "#f29900", "repetition_loop": "#1a73e8", "grounding_loss": "#d93025"}
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=320, legend_title_text="")


def flag_rate_by_subset(df: pd.DataFrame) -> go.Figure:
    fig = px.bar(df, x="subset", y="flag_rate", color="detector", barmode="group", color_discrete_map=DETECTOR_COLORS,
                 title="Flag rate per benchmark subset", hover_data=["samples"])
    fig.update_yaxes(tickformat=".0%", title="samples flagged")
    return fig.update_layout(**_LAYOUT)


def accuracy_by_flag(df: pd.DataFrame) -> go.Figure:
    fig = px.bar(df, x="detector", y="accuracy", color="status", barmode="group", title="Accuracy with vs without each flag",
                 color_discrete_map={"flagged": "#d93025", "not flagged": "#188038"}, hover_data=["samples"])
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig.update_layout(**_LAYOUT)


def length_distribution(df: pd.DataFrame, token_cap: int | None = 4096) -> go.Figure:
    use_tokens = df["completion_tokens"].notna().any()
    col = "completion_tokens" if use_tokens else "chars"
    fig = px.histogram(df, x=col, color="run_id", nbins=60, opacity=0.75, title="Trace length"
                       + (" (tokens)" if use_tokens else " (characters)"))
    if use_tokens and token_cap:
        fig.add_vline(x=token_cap, line_dash="dash", line_color="#d93025", annotation_text=f"cap {token_cap}")
    elif token_cap:  # ~4 characters a token in English: mark where a 4,096-token cap lands
        fig.add_vline(x=token_cap * 4, line_dash="dash", line_color="#d93025",
                      annotation_text=f"≈ {token_cap}-token cap")
    return fig.update_layout(**_LAYOUT)


def loop_onsets(df: pd.DataFrame) -> go.Figure:
    fig = px.histogram(df, x="relative_onset", color="severity", nbins=20, range_x=[0, 1],
                       title="Where loops start (share of the trace)")
    fig.update_xaxes(tickformat=".0%", title="onset position in the trace")
    return fig.update_layout(**_LAYOUT)


def step_signals(steps: pd.DataFrame, flagged_steps: list[int], selected: int | None = None) -> go.Figure:
    """Per-step signals along the trace: image-reference counts (plus probe curves when present)."""
    fig = go.Figure()
    fig.add_bar(x=steps["step_index"], y=steps["image_ref_count"], name="image references", marker_color="#1a73e8")
    for col, name, color in (("image_attention_share", "attention on image", "#188038"),
                             ("visual_dependence", "visual dependence", "#9334e6")):
        if col in steps and steps[col].notna().any():
            fig.add_scatter(x=steps["step_index"], y=steps[col], name=name, mode="lines+markers", yaxis="y2",
                            line_color=color)
    for s in flagged_steps:
        fig.add_vline(x=s, line_color="#d93025", line_width=1, opacity=0.5)
    if selected is not None:
        fig.add_vline(x=selected, line_color="#f9ab00", line_width=3)
    fig.update_layout(height=200, margin=dict(l=10, r=10, t=30, b=10), title="Signals along the trace",
                      xaxis_title="step", yaxis_title="refs", showlegend=True,
                      yaxis2=dict(overlaying="y", side="right", showgrid=False))
    return fig


def counts_bar(df: pd.DataFrame, x: str, color: str, title: str) -> go.Figure:
    fig = px.bar(df, x=x, y="findings", color=color, title=title, color_discrete_map=DETECTOR_COLORS)
    return fig.update_layout(**_LAYOUT)
