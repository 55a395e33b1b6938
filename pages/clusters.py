"""Clusters: the failure clusters of `workbench cluster` as a map, a table, representatives with links
to their traces, sizes compared between runs, and a failure-report download."""

from __future__ import annotations

import streamlit as st

from workbench.store import clusters as sc
from workbench.ui import clusters as uc
from workbench.ui.common import require_runs, user_errors
from workbench.ui.data import cached_df, db_path
from workbench.ui.safe import md_text

st.title("Clusters")
with user_errors():
    runs = require_runs()
    crs = cached_df(sc.CLUSTER_RUNS)
    if crs.empty:
        st.info("No clusterings yet. Run `workbench analyze`, then `workbench cluster` (e.g. "
                "`workbench cluster --run NAME --method kmeans --k 8`), and refresh this page.")
        st.stop()
    cr = st.selectbox("Clustering", crs["cluster_run_id"].tolist(), key="clusters_run",
                      format_func=lambda c: f"{c} ({int(crs.set_index('cluster_run_id').loc[c, 'n_units'])} units)")
    clusters = cached_df(sc.CLUSTERS, [cr])
    members = cached_df(sc.MEMBERS, [cr])
    noise = bool((clusters["cluster_id"] < 0).any())
    st.caption(f"{len(members):,} units in {int((clusters['cluster_id'] >= 0).sum())} clusters"
               + (" (cluster -1 = left unclustered by HDBSCAN)" if noise else ""))
    st.plotly_chart(uc.cluster_map(members), key="clusters_map")
    st.dataframe(uc.cluster_table(clusters), hide_index=True, key="clusters_table",
                 column_config={"accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
                                "label": st.column_config.TextColumn("label", width="large")})
    ids = clusters["cluster_id"].tolist()
    labels = dict(zip(clusters["cluster_id"], clusters["label"]))
    chosen = st.selectbox("Read a cluster", ids, key="clusters_pick", format_func=lambda c: f"{c}: {labels[c]}")
    reps = members[(members["cluster_id"] == chosen) & members["representative"]]
    if reps.empty:
        reps = members[members["cluster_id"] == chosen].head(5)
    st.subheader("Representatives (closest to the centre)")
    for _, r in reps.iterrows():
        step = "" if r["step_index"] != r["step_index"] else f" · step {int(r['step_index'])}"
        st.markdown(f"[{md_text(r['run_id'])} / {md_text(r['sample_id'])}{step} ↗]"
                    f"({uc.trace_link(r['run_id'], r['sample_id'], r['step_index'])})")
        st.text((r["excerpt"] or "")[:300])  # st.text: trace text is never rendered as markup
    sizes = cached_df(sc.SIZES_BY_RUN, [cr])
    if sizes["run_id"].nunique() > 1:
        st.subheader("Cluster sizes by run")
        st.plotly_chart(uc.sizes_by_run_chart(sizes), key="clusters_sizes")
    st.subheader("Failure report")
    report_run = st.selectbox("Run", sorted(members["run_id"].unique()), key="clusters_report_run")
    if st.button("Prepare HTML report", key="clusters_report_prepare"):
        st.session_state["clusters_report"] = (report_run, uc.report_html(db_path(), report_run))
    prepared = st.session_state.get("clusters_report")
    if prepared and prepared[0] == report_run:
        st.download_button("Download report (HTML)", prepared[1], f"report-{report_run}.html", "text/html",
                           key="clusters_report_download")
