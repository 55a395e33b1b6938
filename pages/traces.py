"""Traces: a fast, filterable, sortable, paginated list; a row opens the trace view."""

from __future__ import annotations

import streamlit as st

from workbench import urls
from workbench.analysis import registry
from workbench.store import queries as q
from workbench.ui.common import require_runs, scope_filters, user_errors
from workbench.ui.data import cached_df

PAGE_SIZE = 50
st.title("Traces")
with user_errors():
    runs = require_runs()
    scope = scope_filters("traces", runs)
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    text = c1.text_input("Search questions and responses", key="traces_text", placeholder="e.g. cannot see")
    detectors = c2.multiselect("Flagged by (all of)", registry.names(), key="traces_detectors",
                               format_func=lambda d: registry.labels().get(d, d))
    severities = c3.multiselect("Severity", registry.all_severities(), key="traces_severity")
    correct = c4.selectbox("Answer", list(q.GRADES), key="traces_correct")
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    min_chars, max_chars = c1.slider("Length (characters)", 0, 200_000, (0, 200_000), step=1000, key="traces_len")
    sort = c2.selectbox("Sort by", list(q.SORTS), key="traces_sort")
    desc = c3.toggle("Descending", key="traces_desc")
    page = int(c4.number_input("Page", min_value=1, value=1, step=1, key="traces_page"))
    flt = q.SampleFilter(runs=scope[0], benchmarks=scope[1], subsets=scope[2], detectors=detectors,
                         severities=severities, correct=correct, min_chars=min_chars,
                         max_chars=None if max_chars >= 200_000 else max_chars, text=text, sort=sort, descending=desc)
    sql, params = q.sample_list(flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    df = cached_df(sql, params)
    total = int(df["total"].iloc[0]) if len(df) else 0
    pages = max(1, -(-total // PAGE_SIZE))
    st.caption(f"{total:,} matching samples · page {min(page, pages)} of {pages} · select a row to open it")
    if df.empty:
        st.info("No sample matches these filters.")
        st.stop()
    df["open"] = [urls.trace_path(r, s) for r, s in zip(df["run_id"], df["sample_id"])]
    event = st.dataframe(
        df.drop(columns=["total"]), hide_index=True, key="traces_table", on_select="rerun", selection_mode="single-row",
        column_config={"open": st.column_config.LinkColumn("open", display_text="open ↗"),
                       "chars": st.column_config.NumberColumn("chars", format="%d"),
                       "question": st.column_config.TextColumn("question", width="large")})
    rows = event.selection.rows if event and event.selection else []
    if rows:
        picked = df.iloc[rows[0]]
        st.switch_page("pages/trace.py", query_params={"run": picked["run_id"], "sample": picked["sample_id"]})
