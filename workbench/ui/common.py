"""Shared page pieces: run/benchmark/subset filters, query-parameter state, error display."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.store.queries import FILTER_VALUES, SAMPLE_IDS_OF_RUNS
from workbench.ui.data import cached_df, runs_df
from workbench.ui.safe import md_text


@contextmanager
def user_errors() -> Iterator[None]:
    """Show errors as messages, never as tracebacks."""
    try:
        yield
    except WorkbenchError as exc:
        st.error(md_text(str(exc)))   # messages quote ids and URL parameters: escaped, never Markdown
    except Exception as exc:  # noqa: BLE001 - anything else: still a message, with the type for bug reports
        st.error(md_text(f"Something went wrong: {type(exc).__name__}: {exc}"))


def require_runs() -> pd.DataFrame:
    runs = runs_df()
    if runs.empty:
        st.info("The store has no runs yet. Import one with `workbench import FILE` or load the demo with "
                "`workbench demo`, then refresh this page.")
        st.stop()
    return runs


def run_label(runs: pd.DataFrame) -> Callable[[str], str]:
    names = dict(zip(runs["run_id"], runs["name"]))
    synth = set(runs.loc[runs["synthetic"], "run_id"])
    return lambda r: f"{names.get(r, r)}" + (" · synthetic" if r in synth else "")


def scope_filters(runs: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """Run / benchmark / subset multiselects in the sidebar, bound to the query parameters runs, bench
    and subset (defaults = everything)."""
    ids = runs["run_id"].tolist()
    with st.sidebar:
        # bound widgets keep their options' text in the URL: run ids (no format_func) make stable links
        chosen = st.multiselect("Runs", ids, default=ids, key="runs", bind="query-params")
        values = cached_df(FILTER_VALUES, [chosen or ids])
        benchmarks = st.multiselect("Benchmarks", sorted(values["benchmark"].unique()), key="bench",
                                    bind="query-params")
        subsets = st.multiselect("Subsets", sorted(values["subset"].unique()), key="subset", bind="query-params")
    return chosen or ids, benchmarks, subsets


def shared_id_prefixes(run_ids: list[str]) -> list[str]:
    """The id prefixes many samples of these runs share (tables drop them from display ids)."""
    from workbench.ui.data import fingerprint
    return _prefixes(tuple(sorted(run_ids)), fingerprint())


@st.cache_data(show_spinner=False, max_entries=32)
def _prefixes(run_ids: tuple[str, ...], fp: tuple) -> list[str]:  # fp: cache key only
    from workbench.ui.tables import shared_prefixes
    return shared_prefixes(cached_df(SAMPLE_IDS_OF_RUNS, [list(run_ids)])["sample_id"].tolist())
