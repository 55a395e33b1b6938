"""Clusters: the failure clusters of `workbench cluster` as a map, a table, representatives (flagged span
highlighted) with links to their traces, sizes compared between runs, and a failure-report download.
The clustering and the cluster read are bound to the URL (clustering, cluster)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.store import clusters as sc
from workbench.ui import clusters as uc
from workbench.ui.common import require_runs, shared_id_prefixes, user_errors
from workbench.ui.data import cached_df, db_path
from workbench.ui.safe import md_text
from workbench.ui.tables import display_id
from workbench.viz.trace_html import excerpt_html

BIND = "query-params"
MAP_POINTS = 5000   # points on the cluster map at most (a scatter of more is slow to draw and unreadable)
st.title("Clusters")
with user_errors():
    runs = require_runs()
    crs = cached_df(sc.CLUSTER_RUNS)
    if crs.empty:
        st.info("No clusterings yet. Run `workbench analyze`, then `workbench cluster` (e.g. "
                "`workbench cluster --run NAME --method kmeans --k 8`), and refresh this page.")
        st.stop()
    by_id = crs.set_index("cluster_run_id")
    cr = st.selectbox("Clustering", crs["cluster_run_id"].tolist(), key="clustering", bind=BIND)
    clusters = cached_df(sc.CLUSTERS, [cr])
    members = cached_df(sc.MAP_MEMBERS, [cr, MAP_POINTS])   # bounded: the map samples large clusterings
    n_units = int(clusters["size"].sum())
    noise = bool((clusters["cluster_id"] < 0).any())
    purity = by_id.loc[cr, "purity"]
    st.caption(md_text(f"{n_units:,} units"
                       + ("" if n_units <= len(members) else f" ({len(members):,} of them on the map)")
                       + f" in {int((clusters['cluster_id'] >= 0).sum())} clusters"
                       + (" (cluster -1 = left unclustered by HDBSCAN)" if noise else "")
                       + ("" if purity != purity or purity is None else
                          f" · purity against detector:severity {purity:.2f} (1.00 = the clusters only restate "
                          "the detector; they are built from the flagged text alone)")))
    st.plotly_chart(uc.cluster_map(members), key="clusters_map")
    st.dataframe(uc.cluster_table(clusters), hide_index=True, key="clusters_table",
                 column_config={"accuracy": st.column_config.NumberColumn("accuracy", format="percent"),
                                "label": st.column_config.TextColumn("label", width="large")})
    ids = clusters["cluster_id"].astype(int).tolist()
    labels = dict(zip(clusters["cluster_id"].astype(int), clusters["label"]))
    chosen = st.selectbox("Read a cluster (number; labels in the table above)", ids, key="cluster", bind=BIND)
    st.caption(md_text(labels[chosen]))
    reps = cached_df(sc.CLUSTER_REPRESENTATIVES, [cr, chosen])
    if reps["representative"].any():
        reps = reps[reps["representative"]]
    st.subheader("Representatives (closest to the centre; the flagged span is marked)")
    sizes = cached_df(sc.SIZES_BY_RUN, [cr])
    prefixes = shared_id_prefixes(sorted(sizes["run_id"].unique()))
    for _, r in reps.iterrows():
        step = None if pd.isna(r["step_index"]) else int(r["step_index"])
        st.markdown(f"[{md_text(r['run_id'])} / {md_text(display_id(r['sample_id'], prefixes))}"
                    f"{'' if step is None else ' · step ' + str(step)} ↗]"
                    f"({uc.trace_link(r['run_id'], r['sample_id'], step)})")
        st.html(excerpt_html(r["excerpt"], r.get("span_start"), r.get("span_end")))
    if sizes["run_id"].nunique() > 1:
        st.subheader("Cluster sizes by run")
        st.plotly_chart(uc.sizes_by_run_chart(sizes), key="clusters_sizes")
    st.subheader("Failure report")
    report_run = st.selectbox("Run", sorted(sizes["run_id"].unique()), key="clusters_report_run")
    if st.button("Prepare HTML report", key="clusters_report_prepare"):
        with st.spinner("Writing the report (streamed from the store)…"):
            st.session_state["clusters_report"] = (report_run, uc.report_html(db_path(), report_run))
    prepared = st.session_state.get("clusters_report")
    if prepared and prepared[0] == report_run:
        st.download_button("Download report (HTML)", prepared[1], f"report-{report_run}.html", "text/html",
                           key="clusters_report_download")
