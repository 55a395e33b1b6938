"""SQL: read-only queries over the store (no files, no writes; row cap and time limit)."""

from __future__ import annotations

import streamlit as st

from workbench.errors import QueryRefused
from workbench.store.console import run_query
from workbench.ui.data import db_path
from workbench.ui.sql_console import EXAMPLES

st.title("SQL")
st.caption("Read-only: the console can query the store's tables and nothing else (no files, no writes, no "
           "extensions, no settings). Results are capped and long queries are stopped.")
example = st.selectbox("Example queries", ["(write your own)"] + list(EXAMPLES), key="sql_example")
if example != "(write your own)" and st.session_state.get("sql_loaded") != example:
    st.session_state["sql_text"] = EXAMPLES[example]
    st.session_state["sql_loaded"] = example
sql = st.text_area("Query", key="sql_text", height=160,
                   placeholder="SELECT detector, count(*) FROM flags GROUP BY 1")
if st.button("Run", type="primary", key="sql_run") and sql.strip():
    try:
        res = run_query(sql, db_path())
    except QueryRefused as exc:
        st.error(f"Query refused: {exc}")
    else:
        df = res.to_pandas()
        st.caption(f"{len(df):,} rows in {res.elapsed_s * 1000:.0f} ms")
        if res.truncated:
            st.warning(f"Truncated: only the first {res.row_cap:,} rows are shown and downloadable.")
        st.dataframe(df, hide_index=True, key="sql_result")
        st.download_button("Download CSV", df.to_csv(index=False).encode("utf-8"), "query.csv", "text/csv",
                           key="sql_csv")
