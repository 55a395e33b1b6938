"""App-wide chrome: the sidebar footer (store path, synthetic-data notice)."""

from __future__ import annotations

import streamlit as st

from workbench.store.runs import SYNTHETIC_RUN_NAMES
from workbench.ui.data import cached_df, db_path
from workbench.ui.safe import md_text


def sidebar_footer() -> None:
    with st.sidebar:
        st.caption("Store: " + md_text(db_path()))
        try:
            synth = cached_df(SYNTHETIC_RUN_NAMES)
        except Exception as exc:  # noqa: BLE001 - a store that cannot be opened: say so, no traceback
            st.error("Cannot open the store: " + md_text(exc))
            return
        if len(synth):
            st.info("Demo data: the runs " + ", ".join(f"“{md_text(n)}”" for n in synth["name"]) +
                    " are synthetic, written by the project, not real model output.", icon="ℹ️")
