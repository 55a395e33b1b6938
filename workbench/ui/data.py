"""Cached, store-aware data access for the pages.

Every cached function takes the store `fingerprint` as an argument, so a change to the store
(an import while the app is open) invalidates the cache on the next rerun or refresh.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from workbench.store import connect, resolve_db_path, store_fingerprint


def db_path() -> str:
    return str(resolve_db_path(os.environ.get("WORKBENCH_DB")))


def fingerprint() -> tuple:
    return store_fingerprint(db_path())


def query_df(sql: str, params: list | None = None) -> pd.DataFrame:
    """Uncached query (short-lived connection, DuckDB memory capped by `app_memory_limit`); prefer
    `cached_df` in pages."""
    with connect(db_path()) as con:
        con.execute(f"SET memory_limit = '{app_memory_limit()}'")
        return con.execute(sql, params or []).df()


def app_memory_limit() -> str:
    from workbench.config import setting
    return str(setting("app_memory_limit")).replace("'", "")


def write(fn: Callable[..., None], *args: Any) -> None:
    """A store write function (e.g. store.tags.add_tag) on its own short connection."""
    with connect(db_path()) as con:
        fn(con, *args)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_df(sql: str, params: tuple, fp: tuple) -> pd.DataFrame:  # fp: cache key only
    return query_df(sql, [list(p) if isinstance(p, tuple) else p for p in params])


def cached_df(sql: str, params: list | tuple = ()) -> pd.DataFrame:
    return _cached_df(sql, _params_key(params), fingerprint())


def _params_key(params: list | tuple) -> tuple:
    return tuple(tuple(p) if isinstance(p, list) else p for p in params)


@st.cache_resource(show_spinner=False, max_entries=128)
def _cached_figure(name: str, sql: str, params: tuple, fp: tuple, _build: Callable[[pd.DataFrame], Any]) -> Any:
    df = _cached_df(sql, params, fp)
    return None if df.empty else _build(df)


def cached_figure(build: Callable[[pd.DataFrame], Any], sql: str, params: list | tuple = ()) -> Any:
    """`build(df)` of a query's result (None when it has no rows), built once per store state and
    parameters and shared by every session: a Plotly figure costs more to build than to send, so a
    rerun only serialises it. Treat the result as read-only."""
    return _cached_figure(f"{build.__module__}.{build.__qualname__}", sql, _params_key(params), fingerprint(), build)


@st.cache_data(show_spinner=False, max_entries=256)
def _cached_render(key: tuple, fp: tuple, _render: Callable[[], str]) -> str:  # fp: cache key only
    return _render()


def cached_render(key: tuple, render: Callable[[], str]) -> str:
    """`render()` (a pure render of store content, e.g. a trace as HTML) cached by `key`, which must
    determine everything the render reads (run, sample, selected step, options), and by the store
    fingerprint: a rerun that shows the same thing does not render it again."""
    return _cached_render(key, fingerprint(), render)


@st.cache_data(show_spinner=False, max_entries=8)
def _fresh_summaries(fp: tuple) -> list[str]:  # fp: cache key only (a refresh changes it: checked again, cheap)
    from workbench.store.summary import ensure_fresh
    with connect(db_path()) as con:
        con.execute(f"SET memory_limit = '{app_memory_limit()}'")
        return ensure_fresh(con)


def fresh_summaries() -> None:
    """Recompute any stale summary before a page reads one (store/summary.py: never shown stale)."""
    _fresh_summaries(fingerprint())


def runs_df() -> pd.DataFrame:
    from workbench.store.summary import runs_summary_sql
    fresh_summaries()
    return cached_df(runs_summary_sql())
