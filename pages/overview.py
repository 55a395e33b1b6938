"""Overview: the runs in the store and their samples."""

from __future__ import annotations

import streamlit as st

from workbench.ui.data import cached_df

st.title("Overview")
runs = cached_df("""SELECT run_id, name, model, n_samples AS samples, n_with_image AS "with image",
                           CASE WHEN n_graded > 0 THEN round(100.0 * n_correct / n_graded, 1) END AS "accuracy %",
                           synthetic, source FROM runs ORDER BY created_at, run_id""")
if runs.empty:
    st.info("The store has no runs yet. Import one with `workbench import FILE` or load the demo with "
            "`workbench demo`, then refresh this page.")
    st.stop()
st.subheader("Runs")
st.dataframe(runs, hide_index=True, width="stretch", key="overview_runs")
run_id = st.selectbox("Run", runs["run_id"].tolist(), key="overview_run",
                      format_func=lambda r: runs.set_index("run_id").loc[r, "name"])
samples = cached_df("""SELECT sample_id, benchmark, subset, correct, length(response) AS chars, n_images,
                              left(question, 120) AS question
                       FROM samples WHERE run_id = ? ORDER BY sample_id LIMIT 500""", [run_id])
st.subheader(f"Samples of {run_id}")
st.dataframe(samples, hide_index=True, width="stretch", key="overview_samples")
