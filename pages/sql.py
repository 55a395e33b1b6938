"""SQL: read-only queries over the store's tables, each in a limited process of its own."""

from __future__ import annotations

import streamlit as st

from workbench.config import setting
from workbench.errors import WorkbenchError
from workbench.store.console import run_query
from workbench.ui.data import db_path
from workbench.ui.safe import md_text
from workbench.ui.sql_console import EXAMPLES, display_frame, refusal_parts

st.title("SQL")
st.caption(f"Read-only: the console queries copies of the store's tables and nothing else (no files, no writes, "
           f"no extensions, no settings or paths). Each query runs in its own process, limited to "
           f"{setting('sql_timeout')} s, {setting('sql_memory_limit')} of memory, {setting('sql_row_cap')} rows "
           f"and {setting('sql_result_mb')} MB of results, so it never holds up other pages or an import.")
example = st.selectbox("Example queries", ["(write your own)", *list(EXAMPLES)], key="sql_example")
if example != "(write your own)" and st.session_state.get("sql_loaded") != example:
    st.session_state["sql_text"] = EXAMPLES[example]
    st.session_state["sql_loaded"] = example
sql = st.text_area("Query", key="sql_text", height=160,
                   placeholder="SELECT detector, count(*) FROM flags GROUP BY 1")
if st.button("Run", type="primary", key="sql_run") and sql.strip():
    try:
        with st.spinner("Running…"):
            res = run_query(sql, db_path())
    except WorkbenchError as exc:
        head, rest = refusal_parts(str(exc))
        st.error(f"Query refused: {md_text(head)}")
        if rest:
            st.code(rest, language=None)
    except Exception as exc:  # noqa: BLE001 - a bug in the console still shows as a message, never a traceback
        st.error(f"Query failed: {md_text(type(exc).__name__)}")
    else:
        df = display_frame(res.columns, res.rows)
        st.caption(f"{len(df):,} rows in {res.elapsed_s * 1000:.0f} ms ({res.total_s:.1f} s with starting the "
                   f"query's process and copying the tables it reads)")
        if res.truncated:
            st.warning(f"Truncated: {md_text(res.note)}; the download holds the same rows.")
        st.dataframe(df, hide_index=True, key="sql_result")
        st.download_button("Download CSV", df.to_csv(index=False).encode("utf-8"), "query.csv", "text/csv",
                           key="sql_csv")
