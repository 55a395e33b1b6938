"""Failures: every finding, filterable, with counts, drill-down links and downloads."""

from __future__ import annotations

import io

import streamlit as st

from workbench import urls
from workbench.analysis import registry
from workbench.store import queries as q
from workbench.store.findings import failures_sql
from workbench.ui.common import require_runs, scope_filters, user_errors
from workbench.ui.data import cached_df
from workbench.viz import charts

st.title("Failures")
with user_errors():
    runs = require_runs()
    scope = scope_filters("failures", runs)
    c1, c2 = st.columns(2)
    detectors = c1.multiselect("Detector", registry.names(), key="failures_detectors",
                               format_func=lambda d: registry.labels().get(d, d))
    severities = c2.multiselect("Severity", registry.all_severities(), key="failures_severity")
    df = cached_df(failures_sql(q.SCOPE_SQL), q.scope_params(*scope) + [detectors, detectors, severities, severities])
    st.caption(f"{len(df):,} findings in {df[['run_id', 'sample_id']].drop_duplicates().shape[0]:,} samples")
    if df.empty:
        st.info("No findings match. Run `workbench analyze` if the runs have not been analysed.")
        st.stop()
    counts = df.groupby(["detector", "severity"]).size().reset_index(name="findings")
    st.plotly_chart(charts.counts_bar(counts, "severity", "detector", "Findings by detector and severity"),
                    key="failures_counts")
    df["open"] = [urls.trace_path(r, s, int(i) if i == i and i is not None else None)
                  for r, s, i in zip(df["run_id"], df["sample_id"], df["step_index"])]
    st.dataframe(df, hide_index=True, key="failures_table",
                 column_config={"open": st.column_config.LinkColumn("open", display_text="open step ↗"),
                                "score": st.column_config.NumberColumn("score", format="%.2f"),
                                "evidence": st.column_config.TextColumn("evidence", width="large")})
    export = df.drop(columns=["open"])
    c1, c2 = st.columns(2)
    c1.download_button("Download CSV", export.to_csv(index=False).encode("utf-8"), "findings.csv", "text/csv",
                       key="failures_csv")
    buf = io.BytesIO()
    export.to_parquet(buf, index=False)
    c2.download_button("Download Parquet", buf.getvalue(), "findings.parquet", "application/octet-stream",
                       key="failures_parquet")
