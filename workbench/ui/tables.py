"""Tables for triage (pure: pandas in, pandas out; no Streamlit): short display ids, identity and the
link first, measurements as sortable numbers, and the same columns (plus an absolute trace link) in
the CSV download."""

from __future__ import annotations

import pandas as pd

from workbench import urls
from workbench.analysis import registry

ID_WIDTH = 40          # characters of a display id (the rest is cut in the middle: "…")


_SEPARATORS = "/:|#"   # path-like separators only: "_" and "-" sit inside the words that tell ids apart


def shared_prefixes(ids: list[str], min_count: int = 5) -> list[str]:
    """Prefixes (each ending at a separator) that at least `min_count` ids start with, longest first:
    what many ids repeat, and so what tells rows apart least."""
    counts: dict[str, int] = {}
    for sid in ids:
        sid = str(sid)
        for k, ch in enumerate(sid[:-1]):
            if ch in _SEPARATORS:
                counts[sid[: k + 1]] = counts.get(sid[: k + 1], 0) + 1
    need = max(2, min(min_count, len(ids)))
    return sorted((p for p, n in counts.items() if n >= need), key=len, reverse=True)


def display_id(sample_id: str, prefixes: list[str] | str = (), width: int = ID_WIDTH) -> str:
    """A short id to read in a table: the longest shared prefix dropped (shown as "…"), then cut in the
    middle when still longer than `width` (the end of an id is usually what tells rows apart)."""
    sid = str(sample_id)
    prefixes = [prefixes] if isinstance(prefixes, str) else prefixes
    prefix = next((p for p in prefixes if p and sid.startswith(p) and len(sid) > len(p)), "")
    rest, lead = (sid[len(prefix):], "…") if prefix else (sid, "")
    if len(lead + rest) > width:
        keep = width - len(lead) - 1
        rest = rest[: keep // 3] + "…" + rest[-(keep - keep // 3):]
    return lead + rest


def measure_columns() -> list[str]:
    """Numeric measurement columns (registry `Measure`s: copies, chars_wasted, period_chars, ...)."""
    seen: list[str] = []
    for _det, m in registry.measures():
        if m.kind in ("int", "float", "share") and m.key not in seen:
            seen.append(m.key)
    return seen


def measure_config() -> dict[str, tuple[str, str]]:
    """column -> (label, kind) for the measurement columns."""
    out: dict[str, tuple[str, str]] = {}
    for _det, m in registry.measures():
        out.setdefault(m.key, (m.label, m.kind))
    return out


def trace_table(df: pd.DataFrame, prefix: list[str], context: dict | None = None) -> pd.DataFrame:
    """The Traces page's rows: link, display id, detectors, grade, measurements, then the rest."""
    out = df.drop(columns=[c for c in ("total",) if c in df]).copy()
    out.insert(0, "open", [urls.trace_path(r, s, context=context) for r, s in zip(out["run_id"], out["sample_id"])])
    out.insert(1, "id", [display_id(s, prefix) for s in out["sample_id"]])
    measures = [c for c in measure_columns() if c in out and c not in ("chars", "steps") and out[c].notna().any()]
    if "tags" in out and out["tags"].isna().all():
        out = out.drop(columns=["tags"])
    first = ["open", "id", "detectors", "correct", "n_flags", *measures, "chars", "steps", "tags", "question"]
    rest = [c for c in out.columns if c not in first and (c not in measure_columns() or c in ("chars", "steps"))]
    return out[[c for c in first if c in out] + rest]


def failure_table(df: pd.DataFrame, prefix: list[str]) -> pd.DataFrame:
    """The Failures page's rows: link, display id, detector, severity, step, measurements, evidence,
    then grade, subset, score, tier and the character offsets last."""
    out = df.copy()
    out.insert(0, "open", [urls.trace_path(r, s, None if i != i or i is None else int(i))
                           for r, s, i in zip(out["run_id"], out["sample_id"], out["step_index"])])
    out.insert(1, "id", [display_id(s, prefix) for s in out["sample_id"]])
    measures = [c for c in measure_columns() if c in out and out[c].notna().any()]
    first = ["open", "id", "detector", "severity", "step_index", *measures, "evidence", "correct", "subset",
             "score", "tags"]
    last = ["tier", "benchmark", "run_id", "sample_id", "char_start", "char_end"]
    middle = [c for c in out.columns if c not in first and c not in last and c not in measure_columns()]
    return out[[c for c in first if c in out] + middle + [c for c in last if c in out]]


def csv_table(table: pd.DataFrame, base_url: str | None) -> pd.DataFrame:
    """What a CSV download holds: the table's columns with the full ids, and `trace_link` as an absolute
    link when the app's address is known (else the link relative to the app)."""
    out = table.drop(columns=[c for c in ("open", "id") if c in table]).copy()
    links = table["open"].tolist() if "open" in table else []
    out.insert(0, "trace_link", [urls.absolute(p, base_url) or p for p in links] if links else None)
    return out
