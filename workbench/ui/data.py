"""Cached, store-aware data access for the pages.

Every cached function takes the store `fingerprint` as an argument, so a change to the store
(an import while the app is open) invalidates the cache on the next rerun or refresh.
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from workbench.store import connect, resolve_db_path, store_fingerprint


def db_path() -> str:
    return str(resolve_db_path(os.environ.get("WORKBENCH_DB")))


def fingerprint() -> tuple:
    return store_fingerprint(db_path())


def query_df(sql: str, params: list | None = None) -> pd.DataFrame:
    """Uncached query (short-lived connection); prefer `cached_df` in pages."""
    with connect(db_path()) as con:
        return con.execute(sql, params or []).df()


def execute(sql: str, params: list | None = None) -> None:
    """A write (tags and notes) in its own short transaction."""
    with connect(db_path()) as con:
        con.execute(sql, params or [])


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_df(sql: str, params: tuple, fp: tuple) -> pd.DataFrame:  # fp: cache key only
    return query_df(sql, [list(p) if isinstance(p, tuple) else p for p in params])


def cached_df(sql: str, params: list | tuple = ()) -> pd.DataFrame:
    return _cached_df(sql, tuple(tuple(p) if isinstance(p, list) else p for p in params), fingerprint())


def runs_df() -> pd.DataFrame:
    from workbench.store.queries import RUNS
    return cached_df(RUNS)
