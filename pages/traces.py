"""Traces: a fast, filterable, sortable, paginated list; a row opens the trace view.

Every filter, the sort and the page are bound to query parameters (urls.LIST_PARAMS): the URL is the
view, Back restores it, and the trace view opened from a row walks the same list."""

from __future__ import annotations

import streamlit as st

from workbench import urls
from workbench.analysis import registry
from workbench.store import queries as q
from workbench.store import tags as store_tags
from workbench.ui import nav, tables
from workbench.ui.common import require_runs, scope_filters, shared_id_prefixes, user_errors
from workbench.ui.data import cached_df
from workbench.ui.safe import md_text
from workbench.ui.state import MAX_CHARS

PAGE_SIZE = 50
BIND = "query-params"
st.title("Traces")
with user_errors():
    runs = require_runs()
    scope = scope_filters(runs)
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    text = c1.text_input("Search questions and responses", key="q", bind=BIND, placeholder="e.g. cannot see")
    detectors = c2.multiselect("Flagged by (all of)", registry.names(), key="det", bind=BIND)
    severities = c3.multiselect("Severity", registry.all_severities(), key="sev", bind=BIND)
    correct = c4.selectbox("Answer", list(q.GRADES), key="answer", bind=BIND)
    c1, c2, c3, c4, c5, c6 = st.columns([2, 2, 2, 2, 1, 1])
    min_chars = int(c1.number_input("Min characters", min_value=0, value=0, step=1000, key="min", bind=BIND))
    max_chars = int(c2.number_input("Max characters", min_value=0, value=MAX_CHARS, step=1000, key="max",
                                    bind=BIND, help=f"{MAX_CHARS:,} = no limit"))
    tag_names = cached_df(store_tags.TAG_NAMES, [scope[0]])["tag"].tolist()
    tags = c3.multiselect("Tagged", tag_names, key="tag", bind=BIND, placeholder="any tag (or none)")
    sorts = list(q.sorts())
    sort = c4.selectbox("Sort by", sorts, key="sort", bind=BIND)
    desc = c5.toggle("Descending", key="desc", bind=BIND)
    flt = q.SampleFilter(runs=scope[0], benchmarks=scope[1], subsets=scope[2], detectors=detectors,
                         severities=severities, correct=correct, min_chars=min_chars,
                         max_chars=None if max_chars >= MAX_CHARS else max_chars, text=text, sort=sort,
                         descending=desc, tags=tags)
    signature = repr((flt.runs, flt.benchmarks, flt.subsets, detectors, severities, correct, min_chars, max_chars,
                      text, sort, desc, tags))
    if st.session_state.get("_traces_signature") not in (None, signature):
        st.session_state["page"] = 1          # new filters: back to the first page
    st.session_state["_traces_signature"] = signature
    page = int(c6.number_input("Page", min_value=1, value=1, step=1, key="page", bind=BIND))
    sql, params = q.sample_list(flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    df = cached_df(sql, params)
    total = int(cached_df(*q.sample_count(flt))["total"].iloc[0])
    pages = max(1, -(-total // PAGE_SIZE))
    st.caption(f"{total:,} matching samples · page {min(page, pages)} of {pages} · select a row to open it "
               "(its previous / next and the j / k keys then walk this list)")
    if df.empty:
        st.info("No sample matches these filters.")
        st.stop()
    context = {"runs": [] if set(scope[0]) == set(runs["run_id"]) else scope[0], "bench": scope[1],
               "subset": scope[2], "det": detectors, "sev": severities,
               "answer": None if correct == "any" else correct, "q": text or None,
               "min": min_chars or None, "max": None if max_chars >= MAX_CHARS else max_chars,
               "sort": None if sort == "sample" else sort, "desc": desc or None, "tag": tags}
    context = {k: (v if isinstance(v, list) else [str(v).lower() if isinstance(v, bool) else str(v)])
               for k, v in context.items() if v not in (None, [])}
    table = tables.trace_table(df, shared_id_prefixes(scope[0]), context)
    mcfg = tables.measure_config()
    event = st.dataframe(
        table, hide_index=True, key="traces_table", on_select="rerun", selection_mode="single-row",
        column_config={
            "open": st.column_config.LinkColumn("open", display_text="open ↗", width="small"),
            "id": st.column_config.TextColumn("sample", width=300,
                                              help="the id without the prefix many ids share; the full "
                                                   "id is in the sample_id column and the link"),
            "correct": st.column_config.CheckboxColumn("correct", width="small"),
            "n_flags": st.column_config.NumberColumn("findings", width="small"),
            "chars": st.column_config.NumberColumn("chars", format="%d", width="small"),
            "steps": st.column_config.NumberColumn("steps", width="small"),
            "question": st.column_config.TextColumn("question", width="large"),
            **{k: st.column_config.NumberColumn(label, format="percent" if kind == "share" else None, width="small")
               for k, (label, kind) in mcfg.items()}})
    rows = event.selection.rows if event and event.selection else []
    if rows:
        picked = table.iloc[rows[0]]
        nav.open_link(picked["open"], f"{picked['run_id']}\x1f{picked['sample_id']}\x1f{signature}")
    st.download_button("Download this page (CSV)", tables.csv_table(table, urls.app_base_url())
                       .to_csv(index=False).encode("utf-8"), "traces.csv", "text/csv", key="traces_csv")
    st.caption(md_text("The download has the full ids and a trace_link column (absolute when WORKBENCH_APP_URL "
                       "is set)."))
