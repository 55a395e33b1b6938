"""Overview: runs, flag rates, accuracy with and without flags, lengths, loop onsets."""

from __future__ import annotations

import streamlit as st

from workbench.analysis import registry
from workbench.store import queries as q
from workbench.store import summary
from workbench.ui.common import require_runs, scope_filters, user_errors
from workbench.ui.data import cached_figure
from workbench.viz import charts

CHART_CONFIG = {"displayModeBar": False}
st.title("Overview")
with user_errors():
    runs = require_runs()
    scope = scope_filters(runs)
    params = q.scope_params(*scope)
    table = runs[runs["run_id"].isin(scope[0])]
    specs = registry.specs()
    st.dataframe(
        table[["name", "model", "source", "samples", "with_image", "accuracy", "graded_by",
               *[s.name for s in specs], "failed", "synthetic"]],
        hide_index=True, key="overview_runs",
        column_config={
            "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
            "graded_by": st.column_config.TextColumn("graded by", help="source: the result file's own grades; "
                                                     "workbench: graded by the workbench's answer rules"),
            **{s.name: st.column_config.ProgressColumn(s.label + (" (image samples)" if s.requires_image else ""),
                                                       format="percent", min_value=0, max_value=1) for s in specs},
            "synthetic": st.column_config.CheckboxColumn("synthetic demo"),
        })
    if table["synthetic"].any():
        st.caption("Synthetic runs are demo data written by the project, not real model output.")
    left, right = st.columns(2)
    # figures are built once per store state and filter (cached_figure); a rerun only sends them.
    # No Plotly mode bar: drawing its buttons on four charts cost ~0.1 s of the browser's time;
    # drag-to-zoom, double-click to reset and Streamlit's full-screen button remain.
    # every chart reads the summary tables (store/summary.py; require_runs made them fresh)
    rates = cached_figure(charts.flag_rate_by_subset, summary.FLAG_RATE_BY_SUBSET, summary.detector_params(params))
    if rates is not None:
        left.plotly_chart(rates, key="overview_rates", config=CHART_CONFIG)
    acc = cached_figure(charts.accuracy_by_flag, summary.ACCURACY_BY_FLAG, summary.detector_params(params))
    if acc is not None:
        right.plotly_chart(acc, key="overview_acc", config=CHART_CONFIG)
    else:
        right.info("No ground truth in the selected runs: accuracy charts need graded samples.")
    left, right = st.columns(2)
    lengths = cached_figure(charts.length_distribution, summary.LENGTH_BINS, params)
    if lengths is not None:
        left.plotly_chart(lengths, key="overview_lengths", config=CHART_CONFIG)
    onsets = cached_figure(charts.loop_onsets, summary.ONSETS, params)
    if onsets is None:
        right.info("No repetition loops found in the selected runs (run `workbench analyze` if you have not).")
    else:
        right.plotly_chart(onsets, key="overview_onsets", config=CHART_CONFIG)
    from workbench.ui.probe_panel import reliance_section  # the probe: image reliance along traces
    reliance_section(scope[0])
