"""View state in the URL: the sample-list filter as query parameters (urls.LIST_PARAMS), parsed back
into a SampleFilter on the Traces page (whose widgets are bound to those parameters) and on the trace
page (which walks the same list)."""

from __future__ import annotations

import pandas as pd

from workbench.store import queries as q

MAX_CHARS = 10_000_000   # "no upper bound" for the length filter


def _int(v: list[str] | None, default: int) -> int:
    try:
        return int(v[0]) if v else default
    except ValueError:
        return default


def filter_from_context(ctx: dict[str, list[str]], run_ids: list[str], default_runs: list[str] | None = None,
                        ) -> q.SampleFilter:
    """The SampleFilter a list context (urls.list_context) describes; unknown values are dropped.
    Without any filter parameter: the flagged samples of `default_runs` (the trace page's old
    "previous / next flagged")."""
    runs = [r for r in ctx.get("runs", []) if r in run_ids]
    if not ctx:
        return q.SampleFilter(runs=default_runs or run_ids, flagged=True)
    correct = (ctx.get("answer") or ["any"])[0]
    sort = (ctx.get("sort") or ["sample"])[0]
    max_chars = _int(ctx.get("max"), MAX_CHARS)
    return q.SampleFilter(
        runs=runs or run_ids, benchmarks=ctx.get("bench", []), subsets=ctx.get("subset", []),
        detectors=ctx.get("det", []), severities=ctx.get("sev", []),
        correct=correct if correct in q.GRADES else "any", min_chars=_int(ctx.get("min"), 0),
        max_chars=None if max_chars >= MAX_CHARS else max_chars, text=(ctx.get("q") or [""])[0],
        sort=sort if sort in q.sorts() else "sample", descending=(ctx.get("desc") or ["false"])[0] == "true",
        tags=ctx.get("tag", []))


def describe(f: q.SampleFilter, runs: pd.DataFrame | None = None) -> str:
    """A short plain-text description of a list filter (for "3 of 92 in: ...")."""
    bits = []
    if f.detectors:
        bits.append("flagged by " + " + ".join(f.detectors))
    elif f.flagged:
        bits.append("flagged")
    if f.severities:
        bits.append("severity " + "/".join(f.severities))
    if f.correct != "any":
        bits.append(f.correct)
    if f.text:
        bits.append(f"containing “{f.text}”")
    if f.tags:
        bits.append("tagged " + "/".join(f.tags))
    if f.subsets:
        bits.append("subsets " + ", ".join(f.subsets))
    bits.append(f"sorted by {f.sort}{' (descending)' if f.descending else ''}")
    return ", ".join(bits)
