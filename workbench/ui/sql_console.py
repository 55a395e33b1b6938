"""SQL page pieces (pure: no `st.*`): example queries, the result as a display-safe table, refusals as text.

The query itself runs in the console's own process (workbench/store/console.py, the same path as
`workbench sql`).
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

_INT64 = (-(2**63), 2**63 - 1)


def display_frame(columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    """The rows as a DataFrame that st.dataframe and CSV can always show: unique column names, and values
    Arrow cannot hold as they are (lists, structs, maps, huge integers, decimals, UUIDs, bytes,
    mixed types) written as text."""
    names: list[str] = []
    for i, c in enumerate(columns):
        name = str(c) or f"column{i + 1}"
        while name in names:
            name += f"_{i + 1}"
        names.append(name)
    df = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    for c in df.columns:
        col = df[c]
        if col.dtype == object and not all(v is None or isinstance(v, str) for v in col):
            df[c] = col.map(_text)
    return df


def _text(v: object) -> object:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool) or (isinstance(v, int) and _INT64[0] <= v <= _INT64[1]):
        return str(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=str, ensure_ascii=False)
    if isinstance(v, (dt.date, dt.time, dt.timedelta)):
        return v.isoformat() if hasattr(v, "isoformat") else str(v)
    return str(v)


def refusal_parts(message: str) -> tuple[str, str]:
    """A refusal as (first line, the rest): DuckDB's 'LINE 1: ... ^' context keeps its layout in a code box."""
    head, _, rest = message.strip().partition("\n")
    return head, rest.strip("\n")

EXAMPLES = {
    "Flag rate by subset": """SELECT s.subset, f.detector, count(DISTINCT f.sample_id) AS flagged,
       count(DISTINCT f.sample_id) / any_value(n.total) AS rate
FROM flags f JOIN samples s USING (run_id, sample_id)
JOIN (SELECT subset, count(*) AS total FROM samples GROUP BY subset) n USING (subset)
GROUP BY ALL ORDER BY rate DESC""",
    "Longest loops": """SELECT run_id, sample_id, severity, json_extract(details, '$.copies')::INT AS copies,
       json_extract(details, '$.chars_wasted')::INT AS chars_wasted, evidence
FROM flags WHERE detector = 'repetition_loop'
ORDER BY chars_wasted DESC LIMIT 50""",
    "Mixing and wrong": """SELECT s.run_id, s.sample_id, s.subset, count(*) AS spans, any_value(f.evidence) AS example
FROM flags f JOIN samples s USING (run_id, sample_id)
WHERE f.detector = 'language_mixing' AND NOT s.correct
GROUP BY ALL ORDER BY spans DESC""",
    "Runs summary": """SELECT run_id, name, model, n_samples, n_correct / nullif(n_graded, 0) AS accuracy
FROM runs ORDER BY created_at""",
    "Says it cannot see the image": """SELECT run_id, sample_id, evidence FROM flags
WHERE detector = 'grounding_loss' AND severity = 'cannot_see'""",
    "Thought switches vs correctness": """SELECT s.correct, avg(t.n_switches) AS mean_switches, count(*) AS samples
FROM trace_stats t JOIN samples s USING (run_id, sample_id)
WHERE s.correct IS NOT NULL GROUP BY ALL""",
}
