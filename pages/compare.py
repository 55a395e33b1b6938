"""Compare: two samples side by side, steps aligned by similarity, differences highlighted."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from workbench.store import queries as q
from workbench.ui.common import require_runs, run_label, user_errors
from workbench.ui.data import cached_df
from workbench.ui.safe import md_text
from workbench.viz.compare_html import render_compare


def pick(col: Any, side: str, runs: pd.DataFrame, default_run: str,
         default_sample: str | None) -> tuple[str, str | None]:
    ids = runs["run_id"].tolist()
    run = col.selectbox(f"{side} run", ids, index=ids.index(default_run) if default_run in ids else 0,
                        format_func=run_label(runs), key=f"compare_{side}_run")
    samples = cached_df(q.SAMPLE_IDS, [run, 20000])
    options = samples["sample_id"].tolist()
    if not options:
        col.info("This run has no samples.")
        return run, None
    if default_sample and default_sample not in options and not cached_df(q.SAMPLE_EXISTS, [run, default_sample]).empty:
        options = [default_sample, *options]   # a deep link past the first 20,000 ids (large runs)
    if default_sample and default_sample not in options:
        col.error(f"No sample {md_text(repr(default_sample))} in run {md_text(repr(run))}: pick one below.")
        return run, col.selectbox(f"{side} sample", options, index=None, key=f"compare_{side}_sample_missing",
                                  placeholder="choose a sample")
    idx = options.index(default_sample) if default_sample in options else 0
    return run, col.selectbox(f"{side} sample", options, index=idx, key=f"compare_{side}_sample")


def step_texts(run: str, sample: str) -> tuple[list[str], object]:
    s = cached_df(q.SAMPLE, [run, sample])
    if s.empty:
        return [], None
    text = s["response"].iloc[0] or ""
    steps = cached_df(q.STEPS, [run, sample])
    if steps.empty:
        return [p for p in text.split("\n\n") if p.strip()], s.iloc[0]
    return [text[int(a):int(b)] for a, b in zip(steps["char_start"], steps["char_end"])], s.iloc[0]


st.title("Compare")
with user_errors():
    runs = require_runs()
    qp = st.query_params
    ids = runs["run_id"].tolist()
    c1, c2 = st.columns(2)
    for param in ("run", "run2"):
        if qp.get(param) and qp.get(param) not in ids:
            st.error(f"No run {md_text(repr(qp.get(param)))} in this store.")
            st.stop()
    left_run, left_sample = pick(c1, "Left", runs, qp.get("run", ids[0]), qp.get("sample"))
    others = cached_df(q.SAME_QUESTION, [left_sample, left_run]) if left_sample else None
    right_default = others["run_id"].iloc[0] if others is not None and not others.empty else left_run
    right_run, right_sample = pick(c2, "Right", runs, qp.get("run2", right_default),
                                   qp.get("sample2", left_sample))
    if not left_sample or not right_sample:
        st.stop()
    a, sa = step_texts(left_run, left_sample)
    b, sb = step_texts(right_run, right_sample)
    for col, s in ((c1, sa), (c2, sb)):
        if s is not None:
            verdict = {True: "correct", False: "wrong"}.get(s["grade"], "ungraded")
            col.caption(md_text(f"{len(s['response'] or ''):,} characters · answer {s['extracted_answer'] or '—'} · "
                                f"{verdict}"))
    if len(a) * len(b) > 250_000:
        st.warning("These traces are too long to align step by step here; showing the first 500 steps of each.")
        a, b = a[:500], b[:500]
    html, stats = render_compare(a, b)
    st.caption(f"{stats['aligned']} aligned steps ({stats['identical']} identical), {stats['only_left']} only left, "
               f"{stats['only_right']} only right")
    st.html(html)
