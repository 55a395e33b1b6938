"""Run model: start a generation job, follow its progress and the trace streaming in, cancel it."""

import streamlit as st

from workbench.ui.run_panel import job_progress, recent_jobs, start_form

st.title("Run model")
st.caption("Runs in a separate worker process: it keeps going across reruns and page reloads. "
           "Check GPU fit first with `workbench plan`.")
job = st.query_params.get("job")
if job:
    st.subheader(f"Job {job}")
    job_progress(job)
with st.expander("Start a new run", expanded=not job):
    start_form()
recent_jobs()
