"""Overview: runs, flag rates, accuracy with and without flags, lengths, loop onsets."""

from __future__ import annotations

import streamlit as st

from workbench.store import queries as q
from workbench.ui.common import require_runs, scope_filters, user_errors
from workbench.ui.data import cached_df
from workbench.viz import charts

st.title("Overview")
with user_errors():
    runs = require_runs()
    scope = scope_filters("overview", runs)
    params = q.scope_params(*scope)
    table = runs[runs["run_id"].isin(scope[0])]
    st.dataframe(
        table[["name", "model", "source", "samples", "with_image", "accuracy", "language_mixing", "repetition_loop",
               "grounding_loss", "failed", "synthetic"]],
        hide_index=True, key="overview_runs",
        column_config={
            "accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
            "language_mixing": st.column_config.ProgressColumn("language mixing", format="percent", min_value=0,
                                                               max_value=1),
            "repetition_loop": st.column_config.ProgressColumn("repetition loops", format="percent", min_value=0,
                                                               max_value=1),
            "grounding_loss": st.column_config.ProgressColumn("grounding loss (image samples)", format="percent",
                                                              min_value=0, max_value=1),
            "synthetic": st.column_config.CheckboxColumn("synthetic demo"),
        })
    if table["synthetic"].any():
        st.caption("Synthetic runs are demo data written by the project, not real model output.")
    left, right = st.columns(2)
    rates = cached_df(q.FLAG_RATE_BY_SUBSET, params)
    if not rates.empty:
        left.plotly_chart(charts.flag_rate_by_subset(rates), key="overview_rates")
    acc = cached_df(q.ACCURACY_BY_FLAG, params)
    if not acc.empty:
        right.plotly_chart(charts.accuracy_by_flag(acc), key="overview_acc")
    else:
        right.info("No ground truth in the selected runs: accuracy charts need graded samples.")
    left, right = st.columns(2)
    lengths = cached_df(q.LENGTHS, params)
    if not lengths.empty:
        left.plotly_chart(charts.length_distribution(lengths), key="overview_lengths")
    onsets = cached_df(q.LOOP_ONSETS, params)
    if onsets.empty:
        right.info("No repetition loops found in the selected runs (run `workbench analyze` if you have not).")
    else:
        right.plotly_chart(charts.loop_onsets(onsets), key="overview_onsets")
