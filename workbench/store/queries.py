"""Named read queries for browsing: the sample list and one sample, overview aggregates.

Parameterised: never string-built from user input. The only interpolations are whitelisted sort
columns and detector names from the registry (plain identifiers, checked by DetectorSpec). The
detector lists come from the registry (passed as parameters), the grade from store/grades.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.analysis import registry
from workbench.store.grades import grade_source_sql, grade_sql

FILTER_VALUES = """
SELECT DISTINCT coalesce(benchmark, '(none)') AS benchmark, coalesce(subset, '(none)') AS subset
FROM samples WHERE run_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1, 2
"""

SCOPE_SQL = _SCOPE = """s.run_id IN (SELECT unnest(?::VARCHAR[]))
    AND (len(?::VARCHAR[]) = 0 OR coalesce(s.benchmark, '(none)') IN (SELECT unnest(?::VARCHAR[])))
    AND (len(?::VARCHAR[]) = 0 OR coalesce(s.subset, '(none)') IN (SELECT unnest(?::VARCHAR[])))"""


def scope_params(runs: list[str], benchmarks: list[str], subsets: list[str]) -> list:
    return [runs, benchmarks, benchmarks, subsets, subsets]


# Sort keys of the sample list: plain columns, then one per registered measurement (the sample's
# largest value of it over its findings, e.g. the longest loop's chars_wasted).
# A trace's length (characters of the response), stored with the row: sorting and filtering a million
# rows by it reads no text.
CHARS_SQL = "s.n_chars"
_N_FLAGS = "(SELECT count(*) FROM flags x WHERE x.run_id = s.run_id AND x.sample_id = s.sample_id)"
_BASE_SORTS = {"sample": "s.sample_id", "length": CHARS_SQL, "steps": "t.n_steps", "flags": _N_FLAGS,
               "run": "s.run_id"}


# Columns of the sample list a measurement may not shadow (a measure named like one is not a sort key).
_LIST_COLUMNS = {"run_id", "sample_id", "benchmark", "subset", "correct", "graded_by", "chars", "steps", "n_flags",
                 "detectors", "tags", "question", "total"}


def _measure_max(key: str) -> str:
    return (f"(SELECT max(TRY_CAST(json_extract_string(x.details, '$.{key}') AS DOUBLE)) FROM flags x "
            f"WHERE x.run_id = s.run_id AND x.sample_id = s.sample_id)")


def sorts() -> dict[str, str]:
    """Sort name -> SQL expression (names are plain identifiers: checked by the registry)."""
    out = dict(_BASE_SORTS)
    for _det, m in registry.measures():
        if m.kind in ("int", "float", "share") and m.key not in _LIST_COLUMNS:
            out.setdefault(m.key, _measure_max(m.key))
    return out



GRADES = ("any", "correct", "wrong", "ungraded")


@dataclass
class SampleFilter:
    runs: list[str]
    benchmarks: list[str] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)       # flagged by all of these
    severities: list[str] = field(default_factory=list)
    correct: str = "any"                                      # one of GRADES (the one grade)
    min_chars: int = 0
    max_chars: int | None = None
    text: str = ""                                            # search in question and response
    sort: str = "sample"
    descending: bool = False
    flagged: bool = False                                     # at least one finding of any detector
    tags: list[str] = field(default_factory=list)             # tagged (sample or a step) with any of these


def _where(f: SampleFilter) -> tuple[list[str], list]:
    where = [_SCOPE]
    params: list = scope_params(f.runs, f.benchmarks, f.subsets)
    for det in f.detectors:
        where.append("EXISTS (SELECT 1 FROM flags x WHERE x.run_id = s.run_id AND x.sample_id = s.sample_id "
                     "AND x.detector = ?)")
        params.append(det)
    if f.severities:
        where.append("EXISTS (SELECT 1 FROM flags x WHERE x.run_id = s.run_id AND x.sample_id = s.sample_id "
                     "AND x.severity IN (SELECT unnest(?::VARCHAR[])))")
        params.append(f.severities)
    if f.flagged:
        where.append("EXISTS (SELECT 1 FROM flags x WHERE x.run_id = s.run_id AND x.sample_id = s.sample_id)")
    if f.tags:
        where.append("EXISTS (SELECT 1 FROM tags g WHERE g.run_id = s.run_id AND g.sample_id = s.sample_id "
                     "AND g.tag IN (SELECT unnest(?::VARCHAR[])))")
        params.append(f.tags)
    grade = grade_sql()
    if f.correct == "correct":
        where.append(grade)
    elif f.correct == "wrong":
        where.append(f"NOT {grade}")
    elif f.correct == "ungraded":
        where.append(f"{grade} IS NULL")
    if f.min_chars:
        where.append(f"{CHARS_SQL} >= ?")
        params.append(f.min_chars)
    if f.max_chars is not None:
        where.append(f"{CHARS_SQL} <= ?")
        params.append(f.max_chars)
    if f.text.strip():
        where.append("(contains(lower(s.response), lower(?)) OR contains(lower(s.question), lower(?)))")
        params += [f.text.strip(), f.text.strip()]
    return where, params


def _order(f: SampleFilter) -> str:
    return sorts().get(f.sort, "s.sample_id") + (" DESC" if f.descending else "") + " NULLS LAST, s.run_id, s.sample_id"


def sample_list(f: SampleFilter, *, limit: int, offset: int) -> tuple[str, list]:
    """SQL + params for one page of the filtered sample list (its length: `sample_count`).

    Measurement columns (one per registered measure: the sample's largest value) and the sample's tags
    come with each row. The page's keys are chosen first (filter, sort key, LIMIT / OFFSET); the columns
    are computed for those rows only, so a page costs one pass over the filtered keys whatever the size."""
    where, params = _where(f)
    grade = grade_sql()
    measures = "".join(f", {expr} AS {name}" for name, expr in sorts().items() if name not in _BASE_SORTS)
    sql = f"""
    WITH page AS (SELECT s.rowid AS rid {_list_from(where, _order(f))}
                  ORDER BY {_order(f)} LIMIT ? OFFSET ?)
    SELECT s.run_id, s.sample_id, s.benchmark, s.subset, {grade} AS correct, {grade_source_sql()} AS graded_by,
           {CHARS_SQL} AS chars, t.n_steps AS steps, {_N_FLAGS} AS n_flags,
           (SELECT string_agg(DISTINCT x.detector, ', ' ORDER BY x.detector) FROM flags x
              WHERE x.run_id = s.run_id AND x.sample_id = s.sample_id) AS detectors{measures},
           (SELECT string_agg(DISTINCT g.tag, ', ' ORDER BY g.tag) FROM tags g
              WHERE g.run_id = s.run_id AND g.sample_id = s.sample_id) AS tags,
           left(s.question, 140) AS question
    FROM samples s LEFT JOIN trace_stats t USING (run_id, sample_id)
    WHERE s.rowid IN (SELECT rid FROM page)
    ORDER BY {_order(f)}"""
    return sql, [*params, limit, offset]


def _scope_only(f: SampleFilter) -> bool:
    return not (f.detectors or f.severities or f.flagged or f.tags or f.correct != "any" or f.min_chars
                or f.max_chars is not None or f.text.strip())


def sample_count(f: SampleFilter) -> tuple[str, list]:
    """SQL + params: one row, `total`, the number of samples `sample_list` pages through. With no filter
    but the scope it is read from the summary tables (store/summary.py; callers make them fresh first)."""
    if _scope_only(f):
        from workbench.store.summary import GROUP_COUNT
        return GROUP_COUNT, scope_params(f.runs, f.benchmarks, f.subsets)
    where, params = _where(f)
    return f"SELECT count(*) AS total {_list_from(where, '')}", params


def list_neighbours(f: SampleFilter, run_id: str, sample_id: str) -> tuple[str, list]:
    """SQL + params: the position of (run_id, sample_id) in the filtered, sorted list, the list's
    length and the samples just before and after it (columns pos, total, prev_run, prev_sample,
    next_run, next_sample; no row when the sample is not in the list).

    No sort of the list: the position is a count of the rows that sort before the sample, previous
    and next are the largest of those and the smallest of the rest (linear passes over the keys)."""
    where, params = _where(f)
    key = sorts().get(f.sort, "s.sample_id")
    up, down = ("DESC", "ASC") if f.descending else ("ASC", "DESC")
    cmp = ">" if f.descending else "<"
    # x sorts before me: by key (NULLs last), then by run id and sample id ascending
    before = (f"coalesce((x.k IS NOT NULL AND me.k IS NULL) OR x.k {cmp} me.k OR (x.k IS NOT DISTINCT FROM me.k "
              "AND (x.run_id < me.run_id OR (x.run_id = me.run_id AND x.sample_id < me.sample_id))), false)")
    sql = f"""
    WITH l AS MATERIALIZED (SELECT s.run_id, s.sample_id, {key} AS k {_list_from(where, key)}),
    me AS (SELECT * FROM l WHERE run_id = ? AND sample_id = ?),
    b AS (SELECT x.* FROM l x, me WHERE {before}),
    a AS (SELECT x.* FROM l x, me WHERE NOT {before} AND NOT (x.run_id = me.run_id AND x.sample_id = me.sample_id))
    SELECT (SELECT count(*) FROM b) + 1 AS pos, (SELECT count(*) FROM l) AS total,
           p.run_id AS prev_run, p.sample_id AS prev_sample, n.run_id AS next_run, n.sample_id AS next_sample
    FROM me
    LEFT JOIN (SELECT run_id, sample_id FROM b ORDER BY k {down} NULLS FIRST, run_id DESC, sample_id DESC LIMIT 1) p
      ON true
    LEFT JOIN (SELECT run_id, sample_id FROM a ORDER BY k {up} NULLS LAST, run_id, sample_id LIMIT 1) n ON true"""
    return sql, [*params, run_id, sample_id]


def _list_from(where: list[str], order: str) -> str:
    """FROM/WHERE of the sample list: trace_stats joined only when a filter or the sort reads it (the
    join costs as much as the rest of a page at 100,000 samples)."""
    needs_t = any("t." in w for w in where) or "t." in order or "n_steps" in order
    return (f"FROM samples s {'LEFT JOIN trace_stats t USING (run_id, sample_id) ' if needs_t else ''}"
            f"WHERE {' AND '.join(where)}")


# The longest common prefix of a run's sample ids is the common prefix of its smallest and largest
# id (in sort order): two values, whatever the run's size.
ID_BOUNDS = "SELECT min(sample_id), max(sample_id) FROM samples WHERE run_id IN (SELECT unnest(?::VARCHAR[]))"


SAMPLE = f"""
SELECT s.* EXCLUDE (n_chars), t.* EXCLUDE (run_id, sample_id, n_chars, analyzer_version),
       {grade_sql()} AS grade, {grade_source_sql()} AS graded_by, r.name AS run_name, r.synthetic
FROM samples s JOIN runs r USING (run_id) LEFT JOIN trace_stats t USING (run_id, sample_id)
WHERE s.run_id = ? AND s.sample_id = ?
"""
# Up to 20,000 of the runs' sample ids (all of them in smaller runs; a fixed sample past that): enough to
# find the id prefixes many ids share without loading a million ids into the app.
SAMPLE_IDS_OF_RUNS = """SELECT sample_id
    FROM (SELECT sample_id FROM samples WHERE run_id IN (SELECT unnest(?::VARCHAR[])))
    USING SAMPLE reservoir(20000 ROWS) REPEATABLE (7)"""
SAMPLE_IDS = "SELECT sample_id FROM samples WHERE run_id = ? ORDER BY sample_id LIMIT ?"
SAMPLE_EXISTS = "SELECT 1 FROM samples WHERE run_id = ? AND sample_id = ?"
STEPS = "SELECT * FROM steps WHERE run_id = ? AND sample_id = ? ORDER BY step_index"
IMAGES = """SELECT i.image_id, i.missing, i.width, i.height, i.original_ref, b.data
            FROM (SELECT unnest(image_ids) AS image_id, generate_subscripts(image_ids, 1) AS pos
                  FROM samples WHERE run_id = ? AND sample_id = ?) u
            JOIN images i USING (image_id) LEFT JOIN image_blobs b USING (image_id) ORDER BY u.pos"""
SAME_QUESTION = """
SELECT run_id, sample_id FROM samples WHERE sample_id = ? AND run_id <> ? ORDER BY run_id
"""
