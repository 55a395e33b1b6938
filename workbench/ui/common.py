"""Shared page pieces: run/benchmark/subset filters, query-parameter state, error display."""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator

import pandas as pd
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.store.queries import FILTER_VALUES
from workbench.ui.data import cached_df, runs_df


@contextmanager
def user_errors() -> Iterator[None]:
    """Show errors as messages, never as tracebacks."""
    try:
        yield
    except WorkbenchError as exc:
        st.error(str(exc))
    except Exception as exc:  # anything else: still a message, with the type for bug reports
        st.error(f"Something went wrong: {type(exc).__name__}: {exc}")


def require_runs() -> pd.DataFrame:
    runs = runs_df()
    if runs.empty:
        st.info("The store has no runs yet. Import one with `workbench import FILE` or load the demo with "
                "`workbench demo`, then refresh this page.")
        st.stop()
    return runs


def run_label(runs: pd.DataFrame):
    names = dict(zip(runs["run_id"], runs["name"]))
    synth = set(runs.loc[runs["synthetic"], "run_id"])
    return lambda r: f"{names.get(r, r)}" + (" · synthetic" if r in synth else "")


def scope_filters(key: str, runs: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """Run / benchmark / subset multiselects in the sidebar (stable keys, defaults = everything)."""
    ids = runs["run_id"].tolist()
    with st.sidebar:
        chosen = st.multiselect("Runs", ids, default=st.session_state.get(f"{key}_runs_default", ids),
                                format_func=run_label(runs), key=f"{key}_runs")
        values = cached_df(FILTER_VALUES, [chosen or ids])
        benchmarks = st.multiselect("Benchmarks", sorted(values["benchmark"].unique()), key=f"{key}_bench")
        subsets = st.multiselect("Subsets", sorted(values["subset"].unique()), key=f"{key}_subset")
    return chosen or ids, benchmarks, subsets
