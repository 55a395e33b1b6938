"""App-wide chrome: the sidebar footer (store path, synthetic-data notice)."""

from __future__ import annotations

import html

import streamlit as st

from workbench.store.runs import SYNTHETIC_RUN_NAMES
from workbench.ui.data import cached_df, db_path


def sidebar_footer() -> None:
    with st.sidebar:
        st.caption(f"Store: `{html.escape(db_path())}`")
        try:
            synth = cached_df(SYNTHETIC_RUN_NAMES)
        except Exception as exc:  # a store that cannot be opened: say so, no traceback
            st.error(f"Cannot open the store: {exc}")
            return
        if len(synth):
            st.info("Demo data: the runs " + ", ".join(f"“{n}”" for n in synth["name"]) +
                    " are synthetic, written by the project, not real model output.", icon="ℹ️")
