"""Trace view: one sample, step by step. Deep link: ?run=<run_id>&sample=<sample_id>&step=<n>."""

from __future__ import annotations

import streamlit as st

from workbench.store import queries as q
from workbench.ui import probe_panel
from workbench.ui import trace_view as tv
from workbench.ui.common import require_runs, run_label, user_errors
from workbench.ui.data import cached_df

with user_errors():
    runs = require_runs()
    params = st.query_params
    run_id = params.get("run") or st.session_state.get("trace_run") or runs["run_id"].iloc[0]
    if run_id not in set(runs["run_id"]):
        st.error(f"No run {run_id!r} in this store.")
        st.stop()
    sample_id = params.get("sample")
    if not sample_id:
        ids = cached_df(q.SAMPLE_IDS, [run_id, 1])
        if ids.empty:
            st.info("This run has no samples.")
            st.stop()
        sample_id = str(ids["sample_id"].iloc[0])
    st.session_state["trace_run"] = run_id
    sample, steps, flags, images = tv.load(run_id, sample_id)
    if sample is None:
        st.error(f"No sample {sample_id!r} in run {run_id!r}.")
        st.stop()
    step_param = params.get("step")
    selected = int(step_param) if step_param and step_param.isdigit() else None

    st.title(f"Trace {sample_id}")
    st.caption(f"Run: {run_label(runs)(run_id)}" + (" — synthetic demo data, not model output" if sample["synthetic"]
                                                     else ""))
    c_prev, c_next, c_pick = st.columns([1, 1, 4])
    prev_id, next_id = tv.neighbour(run_id, sample_id, False), tv.neighbour(run_id, sample_id, True)
    if prev_id:
        c_prev.page_link("pages/trace.py", label="◀ previous flagged", query_params={"run": run_id, "sample": prev_id})
    if next_id:
        c_next.page_link("pages/trace.py", label="next flagged ▶", query_params={"run": run_id, "sample": next_id})
    with c_pick.popover("Open another sample"):
        new_run = st.selectbox("Run", runs["run_id"].tolist(), format_func=run_label(runs), key="trace_pick_run",
                               index=runs["run_id"].tolist().index(run_id))
        new_id = st.text_input("Sample id", value=sample_id, key="trace_pick_id")
        if st.button("Open", key="trace_pick_open"):
            st.switch_page("pages/trace.py", query_params={"run": new_run, "sample": new_id})

    left, right = st.columns([2, 3])
    with left:
        tv.show_images(images, int(sample["n_images"] or 0))
    with right:
        st.markdown("**Question**")
        st.text(sample["question"] or "(no question stored)")
        tv.show_answers(sample)
        tv.show_findings(flags)
    tv.show_signals(steps, flags, selected, "trace")
    if steps.empty:
        st.warning("This trace has not been analysed yet: run `workbench analyze` to see steps and findings.")
    else:
        options = [None] + steps["step_index"].astype(int).tolist()
        chosen = st.selectbox("Selected step (highlighted; the URL links to it)", options, key="trace_step",
                              index=options.index(selected) if selected in options else 0,
                              format_func=lambda i: "none" if i is None else f"step {i}")
        if chosen != selected:
            st.query_params.update({"run": run_id, "sample": sample_id, **({"step": str(chosen)} if chosen is not None
                                                                          else {})})
            if chosen is None and "step" in st.query_params:
                del st.query_params["step"]
            selected = chosen
        if selected is not None:
            row = steps[steps["step_index"] == selected].iloc[0]
            st.info(f"Step {selected} ({row['role']}): " + (sample["response"] or "")[int(row["char_start"]):
                                                                                    int(row["char_end"])][:400])
    probe_panel.show(sample, flags, images, selected, "trace")
    tv.show_trace(sample, steps if not steps.empty else tv.whole_trace_step(sample), flags, selected, "trace")
    st.subheader("Tags and notes")
    tv.tags_panel(sample, len(steps), "trace")
