"""Analysis results in the store: steps, trace_stats, flags (findings) and analysis_status.

Writers own their rows: `workbench analyze` replaces the text-tier rows of the detectors it ran;
`workbench probe` replaces its model-tier rows (`replace_model_findings`). Rows are keyed by
(run_id, sample_id, detector, tier, finding_index), so two writers never collide.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from workbench.records import Finding
from workbench.store.rows import one_row

# Sample fields an analysis worker reads (detectors may ask for any of them through `needs`).
ANALYSIS_FIELDS = ("run_id", "sample_id", "response", "question", "ground_truth", "final_answer", "finish_reason",
                   "n_images", "benchmark", "subset", "completion_tokens", "metadata")


@dataclass
class AnalysisRows:
    """What one chunk of analysis writes: rows as dicts (column -> value) per table."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    done: list[tuple[str, str, str]] = field(default_factory=list)   # (run_id, sample_id, detector or "steps")
    # samples never analysed before (no analysis_status row): nothing of theirs to delete first
    fresh: list[tuple[str, str]] = field(default_factory=list)
    # content hash of each analysed sample as it was read (else write_analysis looks it up in samples)
    hashes: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class PreparedRows:
    """AnalysisRows already turned into Arrow tables (by a worker process: Arrow pickles cheaply and the
    conversion's CPU is spent where there is a core to spare, not in the parent that writes)."""
    done: list[tuple[str, str, str]]
    tables: dict[str, pa.Table]          # "steps" / "stats" / "flags" -> rows (absent when empty)
    fresh: list[tuple[str, str]] = field(default_factory=list)   # as AnalysisRows.fresh
    hashes: dict[tuple[str, str], str] = field(default_factory=dict)   # as AnalysisRows.hashes


def prepare(rows: AnalysisRows) -> PreparedRows:
    """The Arrow tables write_analysis inserts."""
    tables = {}
    if rows.steps:
        tables["steps"] = _arrow(rows.steps, _STEP_TYPES)
    if rows.stats:
        tables["stats"] = _stats_arrow(rows.stats)
    if rows.flags:
        tables["flags"] = _arrow(rows.flags, _FLAG_TYPES)
    return PreparedRows(rows.done, tables, rows.fresh, rows.hashes)


def merge_prepared(parts: Sequence[PreparedRows]) -> PreparedRows:
    """Several prepared chunks as one write. A column with no value in one chunk was typed as a string
    there (_stats_arrow follows the values): it takes the type the other chunks gave it."""
    if len(parts) == 1:
        return parts[0]
    tables: dict[str, pa.Table] = {}
    for name in {k for p in parts for k in p.tables}:
        group = [p.tables[name] for p in parts if name in p.tables]
        cols = list(dict.fromkeys(c for t in group for c in t.column_names))
        target = {}
        for c in cols:
            typed = {t.schema.field(c).type for t in group if c in t.column_names and t[c].null_count < t.num_rows}
            target[c] = typed.pop() if len(typed) == 1 else pa.string() if typed else group[0].schema.field(c).type
        fixed = []
        for t in group:
            arrays = []
            for c in cols:
                col = t[c] if c in t.column_names else pa.nulls(t.num_rows, target[c])
                if col.type != target[c]:
                    col = pa.nulls(t.num_rows, target[c]) if col.null_count == len(col) else col.cast(target[c])
                arrays.append(col)
            fixed.append(pa.table(arrays, names=cols))
        tables[name] = pa.concat_tables(fixed)
    return PreparedRows([d for p in parts for d in p.done], tables, [f for p in parts for f in p.fresh],
                        {k: v for p in parts for k, v in p.hashes.items()})


def pending_analysis(con: duckdb.DuckDBPyConnection, runs: list[str] | None, versions: dict[str, str],
                     force: bool) -> list[dict[str, Any]]:
    """Samples with something to (re)do: [{rowid, run_id, sample_id, todo: [detector, ...]}] in rowid order.

    A (sample, detector) pair is pending when its analysis_status row is missing, has another
    version or another content hash, or `force`. `fresh`: the sample has no analysis_status row at all
    (never analysed: write_analysis has no old rows of it to delete). Samples with the same todo share one
    list: do not change it in place."""
    # the versions as a list parameter, not a registered Arrow table: registering makes DuckDB import
    # pandas (half a second, before any worker starts)
    cur = con.execute(
        """SELECT s.rowid, s.run_id, s.sample_id,
                  list(v.detector ORDER BY v.detector) FILTER (WHERE ? OR a.detector IS NULL) AS todo,
                  bool_and(o.run_id IS NULL) AS fresh
           FROM samples s
           CROSS JOIN (SELECT unnest(?::VARCHAR[]) AS detector, unnest(?::VARCHAR[]) AS version) v
           LEFT JOIN analysis_status a ON a.run_id = s.run_id AND a.sample_id = s.sample_id
                AND a.detector = v.detector AND a.detector_version = v.version
                AND a.content_hash = s.content_hash
           LEFT JOIN (SELECT DISTINCT run_id, sample_id FROM analysis_status) o
                ON o.run_id = s.run_id AND o.sample_id = s.sample_id
           WHERE ? OR s.run_id IN (SELECT unnest(?::VARCHAR[]))
           GROUP BY s.rowid, s.run_id, s.sample_id
           HAVING len(todo) > 0
           ORDER BY s.rowid""", [force, list(versions), list(versions.values()), runs is None, runs or []])
    order = list(versions)
    # one shared list per distinct todo and one string per run: a million pending samples would otherwise
    # hold a million lists of detector names (about 0.4 GB)
    todos: dict[tuple[str, ...], list[str]] = {}
    run_ids: dict[str, str] = {}
    out = []
    while batch := cur.fetchmany(20_000):   # in batches: never all rows twice (as tuples and as dicts)
        for rid, r, sid, todo, fresh in batch:
            key = tuple(todo)
            shared = todos.get(key)
            if shared is None:
                shared = todos[key] = sorted(todo, key=order.index)
            out.append({"rowid": rid, "run_id": run_ids.setdefault(r, r), "sample_id": sid, "todo": shared,
                        "fresh": fresh})
    return out


def count_samples(con: duckdb.DuckDBPyConnection, runs: list[str] | None) -> int:
    return int(one_row(con.execute("SELECT count(*) FROM samples WHERE ? OR run_id IN (SELECT unnest(?::VARCHAR[]))",
                       [runs is None, runs or []]))[0])


def samples_in_rowid_range(con: duckdb.DuckDBPyConnection, lo: int, hi: int) -> list[dict[str, Any]]:
    """The analysis fields of the samples with rowid in [lo, hi]. A rowid range lets DuckDB read
    only the row groups of one chunk (a join on the keys would scan every response for every chunk)."""
    fields = (*ANALYSIS_FIELDS, "content_hash")   # the hash analysis_status records for what was analysed
    cur = con.execute(f"SELECT {', '.join(fields)} FROM samples WHERE rowid BETWEEN ? AND ?", [lo, hi])
    return [dict(zip(fields, r)) for r in cur.fetchall()]


_STEP_TYPES = {"step_index": pa.int32(), "char_start": pa.int32(), "char_end": pa.int32(), "n_chars": pa.int32(),
               "image_ref_count": pa.int32()}
_FLAG_TYPES = {"finding_index": pa.int32(), "step_index": pa.int32(), "char_start": pa.int32(),
               "char_end": pa.int32(), "score": pa.float64(), "evidence": pa.string(), "details": pa.string()}


def _arrow(rows: list[dict[str, Any]], types: dict[str, pa.DataType]) -> pa.Table:
    """Rows (dicts with the keys of the first) as a table; columns not in `types` are strings. Converted as
    one struct array (in C++: a third of the time of a column-by-column list comprehension)."""
    struct = pa.struct([(c, types.get(c, pa.string())) for c in rows[0]])
    return pa.Table.from_struct_array(pa.array(rows, struct))


def _stats_arrow(rows: list[dict[str, Any]]) -> pa.Table:
    # Column types follow the values (TraceStats fields: ints, bools, strings, floats).
    cols = list(rows[0])
    arrays = {}
    for c in cols:
        values = [r[c] for r in rows]
        sample = next((v for v in values if v is not None), None)
        typ = (pa.bool_() if isinstance(sample, bool) else pa.int64() if isinstance(sample, int)
               else pa.float64() if isinstance(sample, float) else pa.string())
        arrays[c] = pa.array(values, typ)
    return pa.table(arrays)


def write_analysis(con: duckdb.DuckDBPyConnection, rows: AnalysisRows | PreparedRows, versions: dict[str, str],
                   steps_key: str = "steps") -> None:
    """Replace the analysed samples' steps/stats and their text-tier findings of the detectors that ran,
    and mark them done, in one transaction."""
    if not rows.done:
        return
    tables = (rows if isinstance(rows, PreparedRows) else prepare(rows)).tables
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_done", pa.table({"run_id": [d[0] for d in rows.done], "sample_id": [d[1] for d in rows.done],
                                         "detector": [d[2] for d in rows.done],
                                         "version": [versions[d[2]] for d in rows.done]}))
        # old rows to replace: only samples analysed before (each DELETE scans its whole table, so a first
        # analysis of a million traces must not pay it for every chunk)
        fresh = set(rows.fresh)
        old = [d for d in rows.done if (d[0], d[1]) not in fresh]
        if old:
            con.register("_old", pa.table({"run_id": [d[0] for d in old], "sample_id": [d[1] for d in old],
                                            "detector": [d[2] for d in old]}))
            con.execute("DELETE FROM flags WHERE tier = 'text' AND (run_id, sample_id, detector) IN "
                        "(SELECT run_id, sample_id, detector FROM _old)")
            # analysis_status has no key (0015): the pairs analysed again replace their rows here
            con.execute("DELETE FROM analysis_status WHERE (run_id, sample_id, detector) IN "
                        "(SELECT run_id, sample_id, detector FROM _old)")
            for table in ("steps", "trace_stats"):
                con.execute(f"DELETE FROM {table} WHERE (run_id, sample_id) IN "
                            "(SELECT run_id, sample_id FROM _old WHERE detector = ?)", [steps_key])
        if "steps" in tables:
            con.register("_steps", tables["steps"])
            con.execute("INSERT INTO steps BY NAME SELECT *, ? AS analyzer_version FROM _steps", [versions[steps_key]])
        if "stats" in tables:
            con.register("_stats", tables["stats"])
            con.execute("INSERT INTO trace_stats BY NAME SELECT *, ? AS analyzer_version FROM _stats",
                        [versions[steps_key]])
        if "flags" in tables:
            con.register("_flags", tables["flags"])
            con.execute("""INSERT INTO flags BY NAME
                           SELECT f.*, d.version AS detector_version
                           FROM _flags f JOIN (SELECT DISTINCT detector, version FROM _done) d USING (detector)""")
        if all((d[0], d[1]) in rows.hashes for d in rows.done):
            # the hashes read with the samples: no scan of `samples` per chunk (a million rows at 1M)
            con.register("_hash", pa.table({"run_id": [k[0] for k in rows.hashes],
                                             "sample_id": [k[1] for k in rows.hashes],
                                             "content_hash": list(rows.hashes.values())}))
            con.execute("""INSERT INTO analysis_status
                           SELECT d.run_id, d.sample_id, d.detector, d.version, h.content_hash, now()
                           FROM _done d JOIN _hash h USING (run_id, sample_id)""")
        else:
            con.execute("""INSERT INTO analysis_status
                           SELECT d.run_id, d.sample_id, d.detector, d.version, s.content_hash, now()
                           FROM _done d JOIN samples s USING (run_id, sample_id)""")
        from workbench.store.summary import mark_stale
        mark_stale(con, [r[0] for r in con.execute("SELECT DISTINCT run_id FROM _done").fetchall()])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("_done", "_old", "_hash", "_steps", "_stats", "_flags"):
            with contextlib.suppress(duckdb.Error):
                con.unregister(name)


def finding_row(run_id: str, sample_id: str, index: int, f: Finding) -> dict[str, Any]:
    """A `flags` row (without detector_version) for a finding."""
    import json
    return {"run_id": run_id, "sample_id": sample_id, "detector": f.detector, "finding_index": index,
            "tier": f.tier, "step_index": f.step_index, "char_start": f.char_start, "char_end": f.char_end,
            "severity": f.severity, "score": float(f.score), "evidence": f.evidence,
            "details": json.dumps(f.details, ensure_ascii=False, default=str)}


def replace_model_findings(con: duckdb.DuckDBPyConnection, run_id: str, sample_id: str, detector: str,
                           version: str, tiers: Sequence[str], findings: Sequence[Finding]) -> None:
    """Replace one sample's findings of `detector` in the given model tiers (the probe's rows).
    The caller owns the transaction."""
    con.execute("DELETE FROM flags WHERE run_id = ? AND sample_id = ? AND detector = ? "
                "AND tier IN (SELECT unnest(?::VARCHAR[]))", [run_id, sample_id, detector, list(tiers)])
    from workbench.store.summary import mark_stale
    mark_stale(con, [run_id])
    for i, f in enumerate(findings):
        row = finding_row(run_id, sample_id, i, f)
        row["detector_version"] = version
        con.execute(f"INSERT INTO flags ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


# ---- reads
FLAGS = "SELECT * FROM flags WHERE run_id = ? AND sample_id = ? ORDER BY char_start NULLS LAST, detector, tier"


def measure_exprs(alias: str = "f") -> dict[str, str]:
    """Measurement key -> SQL reading it from the finding's details (NULL for other detectors' findings)."""
    from workbench.analysis import registry
    cast = {"int": "BIGINT", "float": "DOUBLE", "share": "DOUBLE", "bool": "BOOLEAN"}
    return {m.key: f"CASE WHEN {alias}.detector = '{det}' THEN TRY_CAST(json_extract_string({alias}.details, "
                   f"'$.{m.key}') AS {cast.get(m.kind, 'DOUBLE')}) END"
            for det, m in _unique_measures(registry.measures())}


def measure_columns(alias: str = "f") -> str:
    """`, <expr> AS <key>` columns: each registered measurement read from the finding's details."""
    return "".join(f", {expr} AS {key}" for key, expr in measure_exprs(alias).items())


def _unique_measures(pairs: list) -> list:
    seen: set[str] = set()
    out = []
    for det, m in pairs:
        if m.key not in seen:   # two detectors may share a key (e.g. chars): the first one names the column
            seen.add(m.key)
            out.append((det, m))
    return out


def _failures_from(scope_sql: str) -> str:
    """FROM/WHERE of the findings in scope; parameters after the scope's: detectors x2, severities x2,
    tags x2 (a tag on the sample or any of its steps)."""
    return f"""
FROM flags f JOIN samples s USING (run_id, sample_id) LEFT JOIN trace_stats t USING (run_id, sample_id)
WHERE {scope_sql}
  AND (len(?::VARCHAR[]) = 0 OR f.detector IN (SELECT unnest(?::VARCHAR[])))
  AND (len(?::VARCHAR[]) = 0 OR f.severity IN (SELECT unnest(?::VARCHAR[])))
  AND (len(?::VARCHAR[]) = 0 OR EXISTS (SELECT 1 FROM tags g WHERE g.run_id = f.run_id AND g.sample_id = f.sample_id
                                        AND g.tag IN (SELECT unnest(?::VARCHAR[]))))"""


FAILURE_KEY_ORDER = "f.run_id, f.sample_id, f.detector, f.tier, f.finding_index"


def failures_sql(scope_sql: str, *, sort: str = "sample", descending: bool = False) -> str:
    """One page of the findings in scope (LIMIT / OFFSET the last two parameters; see `_failures_from`
    for the others), with their measurements and the sample's tags. `sort`: "sample" (run, sample,
    detector, finding), "score" or a measurement key. The page's findings are chosen first (filter,
    sort key, LIMIT / OFFSET); their columns are computed for those rows only."""
    from workbench.store.grades import grade_sql
    exprs = {"score": "f.score", **measure_exprs()}
    direction = " DESC" if descending else ""
    if sort in exprs:
        order = f"{exprs[sort]}{direction} NULLS LAST, {FAILURE_KEY_ORDER}"
    else:
        order = ", ".join(k + direction for k in FAILURE_KEY_ORDER.split(", "))
    return f"""
WITH page AS (SELECT f.rowid AS rid {_failures_from(scope_sql)} ORDER BY {order} LIMIT ? OFFSET ?)
SELECT f.run_id, f.sample_id, f.detector, f.severity, f.score, f.step_index, f.char_start, f.char_end,
       f.evidence, f.tier, s.benchmark, s.subset, {grade_sql()} AS correct{measure_columns()},
       (SELECT string_agg(DISTINCT g.tag, ', ' ORDER BY g.tag) FROM tags g
          WHERE g.run_id = f.run_id AND g.sample_id = f.sample_id) AS tags
FROM flags f JOIN samples s USING (run_id, sample_id) LEFT JOIN trace_stats t USING (run_id, sample_id)
WHERE f.rowid IN (SELECT rid FROM page)
ORDER BY {order}
"""


def failure_totals_sql(scope_sql: str) -> str:
    """One row: the findings and the samples with findings in scope (the parameters of `failures_sql`
    without the page)."""
    return f"""
WITH m AS (SELECT f.run_id, f.sample_id, f.detector, f.severity {_failures_from(scope_sql)})
SELECT (SELECT count(*) FROM m) AS findings,
       (SELECT count(*) FROM (SELECT DISTINCT run_id, sample_id FROM m)) AS samples
"""


def failure_counts_sql(scope_sql: str) -> str:
    """Findings per detector and severity in scope, counted in SQL (the Failures chart when a tag filter
    is set; without one the chart reads store.summary.FINDING_COUNTS)."""
    return f"""SELECT f.detector, f.severity, count(*) AS findings {_failures_from(scope_sql)}
GROUP BY ALL ORDER BY f.detector, f.severity"""


def _registry_measures() -> list:
    from workbench.analysis import registry
    return registry.measures()
