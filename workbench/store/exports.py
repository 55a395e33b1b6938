"""The export views: what `workbench export`, the report's data files and the report itself read.

One row per finding (`flags`), per step with its text (`steps`), or per sample with its trace
measures, the one grade and one count column per registered detector (`samples`). A user's
`--filter` is a WHERE condition over a view's columns.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from workbench.analysis import registry
from workbench.store.findings import measure_columns
from workbench.store.grades import grade_source_sql, grade_sql

WHAT = ("flags", "steps", "samples")
ORDER = {"flags": "run_id, sample_id, detector, tier, finding_index", "steps": "run_id, sample_id, step_index",
         "samples": "run_id, sample_id"}


def view_sql(what: str) -> str:
    """The SELECT of an export view (columns documented in the README's export section)."""
    if what == "flags":
        return f"""SELECT f.run_id, f.sample_id, f.detector, f.step_index, f.char_start, f.char_end, f.severity,
                          f.score, f.evidence, f.tier, f.detector_version, f.finding_index, f.details,
                          s.benchmark, s.subset, {grade_sql()} AS correct{measure_columns()}
                   FROM flags f JOIN samples s USING (run_id, sample_id)
                   LEFT JOIN trace_stats t USING (run_id, sample_id)"""
    if what == "steps":
        return """SELECT st.run_id, st.sample_id, st.step_index, st.char_start, st.char_end, st.role, st.n_chars,
                         st.image_ref_count,
                         substring(s.response, st.char_start + 1, st.char_end - st.char_start) AS text,
                         coalesce(n.n_flags, 0) AS n_flags
                  FROM steps st JOIN samples s USING (run_id, sample_id)
                  LEFT JOIN (SELECT run_id, sample_id, step_index, count(*) AS n_flags FROM flags
                             WHERE step_index IS NOT NULL GROUP BY ALL) n USING (run_id, sample_id, step_index)"""
    if what == "samples":
        counts = "".join(f", coalesce(c.{d}, 0) AS {d}" for d in registry.names())
        per = ", ".join(f"count(*) FILTER (WHERE detector = '{d}') AS {d}" for d in registry.names())
        flag_counts = (f"LEFT JOIN (SELECT run_id, sample_id, {per} FROM flags GROUP BY ALL) c "
                       f"USING (run_id, sample_id)") if per else ""
        return f"""SELECT s.run_id, s.sample_id, s.benchmark, s.subset, s.model, s.question, s.response,
                          s.final_answer, s.ground_truth, s.correct AS source_correct, {grade_sql()} AS correct,
                          {grade_source_sql()} AS graded_by, s.n_images, s.finish_reason, s.status,
                          t.n_steps, t.n_switches, t.n_reflections, t.n_candidates, t.extracted_answer,
                          t.extracted_correct, t.truncated, t.n_chars{counts}, s.metadata
                   FROM samples s LEFT JOIN trace_stats t USING (run_id, sample_id) {flag_counts}"""
    from workbench.errors import UsageError
    raise UsageError(f"cannot export {what!r}: choose one of {', '.join(WHAT)}")


def checked_filter(where: str) -> str:
    """A user's `--filter` ready for `... AND <returned>`, checked with the console's parse-tree rules
    (`console.check_filter`: one condition over the store's tables, no files, settings or second
    statements). It runs on `export_connection`, which has no file access either."""
    from workbench.store.console import check_filter
    return check_filter(where)


def export_sql(what: str, *, run: str | None, where: str | None, columns: str = "*",
               order: bool = True) -> tuple[str, list]:
    """SQL + params for an (ordered) export of one view, for one run (or all) and a checked filter."""
    sql = f"SELECT {columns} FROM ({view_sql(what)}) v WHERE (? OR v.run_id = ?)"
    params: list = [run is None, run]
    if where:
        sql += f" AND {checked_filter(where)}"
    return sql + (f" ORDER BY {ORDER[what]}" if order else ""), params


@contextmanager
def export_connection(db: str | os.PathLike | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The connection reports and exports read through: read-only, no file access for queries
    (a user's filter cannot read or write files), settings locked, and its own memory budget
    (`export_memory_limit`) with a private temporary folder, so a sort or join larger than the
    budget spills to disk instead of failing (the console's connection has neither). The folder is
    removed afterwards."""
    from workbench.config import setting
    from workbench.errors import QueryRefused
    from workbench.store.db import open_with_retry, process_lock, resolve_db_path
    path = resolve_db_path(db)
    if not path.exists():
        raise QueryRefused(f"there is no store at {path}: import a run first (workbench import)")
    spill = tempfile.mkdtemp(prefix="workbench-export-")
    config = {"enable_external_access": False, "autoinstall_known_extensions": False,
              "autoload_known_extensions": False, "memory_limit": setting("export_memory_limit"),
              "threads": 2, "temp_directory": spill, "preserve_insertion_order": False}
    try:
        with process_lock():
            con = open_with_retry(path, read_only=True, config=config)
            try:
                con.execute("SET lock_configuration = true")
                yield con
            finally:
                con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def out_of_memory_message(exc: Exception) -> str | None:
    """A message a user can act on for DuckDB's out-of-memory errors (None for other errors)."""
    text = str(exc)
    if "Out of Memory" not in text and "max_temp_directory_size" not in text:
        return None
    from workbench.config import SETTINGS
    s = SETTINGS["export_memory_limit"]
    return (f"the export ran out of memory within its budget of {s.get()} ({text.splitlines()[0][:200]}); "
            f"raise it with {s.env}=4GB, narrow the rows with --filter or --run, or free space in the "
            f"temporary folder ({tempfile.gettempdir()})")


FIRST_IMAGE = """SELECT i.image_id, i.format, b.data
                 FROM (SELECT unnest(image_ids) AS image_id, generate_subscripts(image_ids, 1) AS pos FROM samples
                       WHERE run_id = ? AND sample_id = ?) u
                 JOIN images i USING (image_id) JOIN image_blobs b USING (image_id) ORDER BY u.pos LIMIT 1"""
RUN_INFO = "SELECT run_id, name, model, source, settings FROM runs WHERE run_id = ?"
