"""Failures: every finding, filterable and sortable by its measurements (copies, characters wasted,
period...), with links that land on the step, tags you can set on the selected findings, and
downloads of the page. Filters, sort and page are bound to the URL (runs, bench, subset, det, sev, tag,
fsort, fdesc, fpage); filtering, sorting, paging and counting happen in SQL."""

from __future__ import annotations

import io

import streamlit as st

from workbench import urls
from workbench.analysis import registry
from workbench.store import queries as q
from workbench.store import summary
from workbench.store import tags as store_tags
from workbench.store.findings import failure_counts_sql, failure_totals_sql, failures_sql
from workbench.ui import tables
from workbench.ui.common import require_runs, scope_filters, shared_id_prefixes, user_errors
from workbench.ui.data import cached_df, write
from workbench.ui.safe import md_text
from workbench.viz import charts

BIND = "query-params"
PAGE_SIZE = 200
st.title("Failures")
with user_errors():
    runs = require_runs()
    scope = scope_filters(runs)
    c1, c2, c3, c4, c5, c6 = st.columns([3, 2, 2, 2, 1, 1])
    detectors = c1.multiselect("Detector", registry.names(), key="det", bind=BIND)
    severities = c2.multiselect("Severity", registry.all_severities(), key="sev", bind=BIND)
    tag_names = cached_df(store_tags.TAG_NAMES, [scope[0]])["tag"].tolist()
    tags = c3.multiselect("Tagged", tag_names, key="tag", bind=BIND, placeholder="any tag (or none)")
    mcfg = tables.measure_config()
    sort_options = ["sample", "score", *tables.measure_columns()]
    sort = c4.selectbox("Sort by", sort_options, key="fsort", bind=BIND)
    desc = c5.toggle("Descending", key="fdesc", bind=BIND, value=False)
    # one page of findings, filtered, sorted and counted in SQL: nothing loads a whole run
    filters = [*q.scope_params(*scope), detectors, detectors, severities, severities, tags, tags]
    totals = cached_df(failure_totals_sql(q.SCOPE_SQL), filters).iloc[0]
    pages = max(1, -(-int(totals["findings"]) // PAGE_SIZE))
    signature = repr((scope, detectors, severities, tags, sort, desc))
    if st.session_state.get("_failures_signature") not in (None, signature):
        st.session_state["fpage"] = 1          # new filters: back to the first page
    st.session_state["_failures_signature"] = signature
    page = int(c6.number_input("Page", min_value=1, value=1, step=1, key="fpage", bind=BIND))
    df = cached_df(failures_sql(q.SCOPE_SQL, sort=sort, descending=desc),
                   [*filters, PAGE_SIZE, (min(page, pages) - 1) * PAGE_SIZE])
    st.caption(f"{int(totals['findings']):,} findings in {int(totals['samples']):,} samples · "
               f"page {min(page, pages)} of {pages}")
    if df.empty:
        st.info("No findings match. Run `workbench analyze` if the runs have not been analysed.")
        st.stop()
    if tags:
        counts = cached_df(failure_counts_sql(q.SCOPE_SQL), filters)
    else:   # the summary tables (store/summary.py; require_runs made them fresh)
        counts = cached_df(summary.FINDING_COUNTS, filters[:-2])
    st.plotly_chart(charts.counts_bar(counts, "severity", "detector", "Findings by detector and severity"),
                    key="failures_counts")
    table = tables.failure_table(df.reset_index(drop=True), shared_id_prefixes(scope[0]))
    event = st.dataframe(
        table, hide_index=True, key="failures_table", on_select="rerun", selection_mode="multi-row",
        column_config={"open": st.column_config.LinkColumn("open", display_text="open step ↗", width="small"),
                       "id": st.column_config.TextColumn("sample", width=300,
                                                         help="the id without the prefix many ids share (full id: "
                                                              "sample_id column, the link, the CSV)"),
                       "step_index": st.column_config.NumberColumn("step", width="small"),
                       "score": st.column_config.NumberColumn("score", format="%.2f", width="small"),
                       "correct": st.column_config.CheckboxColumn("correct", width="small"),
                       "evidence": st.column_config.TextColumn("evidence", width="large"),
                       **{k: st.column_config.NumberColumn(label, format="percent" if kind == "share" else None,
                                                           width="small") for k, (label, kind) in mcfg.items()}})
    picked = event.selection.rows if event and event.selection else []
    with st.form("failures_tag_form", clear_on_submit=True):
        st.markdown(md_text(f"Tag the {len(picked)} selected finding(s) (select rows in the table); "
                            "each tag goes on the finding's step."))
        c1, c2, c3 = st.columns([2, 5, 1])
        tag = c1.text_input("Tag", key="failures_tag_text", placeholder="e.g. hallucination")
        note = c2.text_input("Note", key="failures_tag_note")
        if c3.form_submit_button("Tag them"):
            if not picked:
                st.warning("Select one or more rows of the table first.")
            elif not tag.strip():
                st.warning("Write a tag first.")
            else:
                for i in picked:
                    r = table.iloc[i]
                    missing = r["step_index"] is None or r["step_index"] != r["step_index"]   # None or NaN
                    step = None if missing else int(r["step_index"])
                    write(store_tags.add_tag, r["run_id"], r["sample_id"], step, tag.strip(), note.strip() or None)
                st.rerun()
    export = tables.csv_table(table, urls.app_base_url())
    c1, c2 = st.columns(2)
    c1.download_button("Download this page (CSV)", export.to_csv(index=False).encode("utf-8"), "findings.csv",
                       "text/csv", key="failures_csv")
    buf = io.BytesIO()
    export.to_parquet(buf, index=False)
    c2.download_button("Download this page (Parquet)", buf.getvalue(), "findings.parquet",
                       "application/octet-stream", key="failures_parquet")
    st.caption("Every matching finding, streamed to a file: "   # fixed text (no data): Markdown on purpose
               "`workbench export flags --format parquet --out findings.parquet` (`--run`, `--filter`).")
