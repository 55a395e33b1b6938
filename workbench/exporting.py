"""Exports of findings, steps and samples to CSV / JSONL / Parquet, with an optional SQL filter.

The filter is a WHERE clause over the exported view; it runs on a read-only connection with
external access disabled (the console's lock-down), so it cannot write or read files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workbench.errors import QueryRefused, UsageError
from workbench.store.console import check_filter, locked_connection, readable_error

VIEWS = {
    "flags": """SELECT f.run_id, f.sample_id, f.detector, f.step_index, f.char_start, f.char_end, f.severity,
                       f.score, f.evidence, f.tier, f.detector_version, f.finding_index, f.details,
                       s.benchmark, s.subset, s.correct
                FROM flags f JOIN samples s USING (run_id, sample_id)""",
    "steps": """SELECT st.run_id, st.sample_id, st.step_index, st.char_start, st.char_end, st.role, st.n_chars,
                       st.image_ref_count, substring(s.response, st.char_start + 1, st.char_end - st.char_start) AS text,
                       (SELECT count(*) FROM flags f WHERE f.run_id = st.run_id AND f.sample_id = st.sample_id
                          AND f.step_index = st.step_index) AS n_flags
                FROM steps st JOIN samples s USING (run_id, sample_id)""",
    "samples": """SELECT s.run_id, s.sample_id, s.benchmark, s.subset, s.model, s.question, s.response, s.final_answer,
                         s.ground_truth, s.correct, s.n_images, s.finish_reason, s.status,
                         t.n_steps, t.n_switches, t.n_reflections, t.n_candidates, t.extracted_answer,
                         t.extracted_correct, t.truncated, t.n_chars,
                         (SELECT count(*) FROM flags f WHERE f.run_id = s.run_id AND f.sample_id = s.sample_id
                            AND f.detector = 'language_mixing') AS language_mixing,
                         (SELECT count(*) FROM flags f WHERE f.run_id = s.run_id AND f.sample_id = s.sample_id
                            AND f.detector = 'repetition_loop') AS repetition_loop,
                         (SELECT count(*) FROM flags f WHERE f.run_id = s.run_id AND f.sample_id = s.sample_id
                            AND f.detector = 'grounding_loss') AS grounding_loss,
                         s.metadata
                  FROM samples s LEFT JOIN trace_stats t USING (run_id, sample_id)""",
}
FORMATS = ("csv", "jsonl", "parquet")


def export_table(what: str, db: str | os.PathLike | None, *, run: str | None = None, where: str | None = None,
                 ) -> pa.Table:
    """The rows of an export view as an Arrow table (ordered, filtered)."""
    if what not in VIEWS:
        raise UsageError(f"cannot export {what!r}: choose one of {', '.join(VIEWS)}")
    sql = f"SELECT * FROM ({VIEWS[what]}) v WHERE true"
    params: list = []
    if run:
        sql += " AND (v.run_id = ?)"
        params.append(run)
    if where:
        sql += f" AND {check_filter(where)}"  # the console's parse-tree rules: one condition, no files
    order = "run_id, sample_id" + (", step_index" if what == "steps" else ", detector, finding_index"
                                   if what == "flags" else "")
    sql += f" ORDER BY {order}"
    with locked_connection(db) as con:
        try:
            return con.sql(sql, params=params).to_arrow_table()
        except Exception as exc:  # duckdb.Error, with the console's readable message
            raise QueryRefused(readable_error(exc)) from None


def write_table(table: pa.Table, out: Path, fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    if fmt == "parquet":
        pq.write_table(table, tmp)
    elif fmt == "csv":
        pacsv.write_csv(table, tmp)
    else:
        with tmp.open("w", encoding="utf-8") as f:
            for row in table.to_pylist():
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    tmp.replace(out)  # a crash never leaves a half-written export under the real name


def export(what: str, db: str | os.PathLike | None, out: Path, fmt: str, *, run: str | None = None,
           where: str | None = None) -> int:
    table = export_table(what, db, run=run, where=where)
    write_table(table, out, fmt)
    return table.num_rows
