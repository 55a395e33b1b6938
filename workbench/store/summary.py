"""Summary tables (migration 0012): the aggregates the Overview, the runs table and the Failures
counts show, kept per run and group (benchmark, subset), so a page reads a few hundred rows
whatever the size of the runs (issue 18 item 3).

Freshness: every write that changes a run's samples, grades or findings marks the run stale in
the same transaction (`mark_stale`: refresh_run_counts, write_analysis, replace_model_findings,
merges). `analyze`, `import` and `runs merge` refresh the runs they touched before they return;
every reader calls `ensure_fresh` first, which recomputes any run that is stale, has no summary,
was summarised under another detector registry, or whose sample / finding counts no longer match
(a safety net for a writer that forgot to mark). So a stale summary is never shown.

Detector names, which detectors need an image and which findings are loops come from the
registry (as parameters), never from this file.
"""

from __future__ import annotations

import duckdb

from workbench.analysis import registry
from workbench.store.grades import grade_source_sql, grade_sql

TABLES = ("summary_groups", "summary_detectors", "summary_findings", "summary_lengths", "summary_onsets")
ONSET_BINS = 20   # loop onsets: share of the trace in 5% bins

# One row per sample of the run being refreshed (the group keys as the scope filter spells them).
_SAMPLES = f"""
s AS (SELECT s.run_id, s.sample_id, coalesce(s.benchmark, '(none)') AS benchmark,
             coalesce(s.subset, '(none)') AS subset,
             CASE WHEN s.benchmark IS NOT NULL AND s.subset IS NOT NULL AND s.subset <> s.benchmark
                  THEN s.benchmark || ' · ' || s.subset ELSE coalesce(s.subset, s.benchmark, '(none)') END AS label,
             s.n_images > 0 AS with_image, {grade_sql()} AS grade, {grade_source_sql()} AS graded_by,
             s.status, s.n_chars AS chars, s.completion_tokens
      FROM samples s LEFT JOIN trace_stats t USING (run_id, sample_id) WHERE s.run_id = $run)"""

_REFRESH = {
    "summary_groups": f"""
WITH {_SAMPLES}
SELECT run_id, benchmark, subset, any_value(label ORDER BY label), count(*), count(*) FILTER (with_image),
       count(grade), count(*) FILTER (grade), count(*) FILTER (graded_by = 'source'),
       count(*) FILTER (graded_by = 'workbench'), count(*) FILTER (status = 'failed')
FROM s GROUP BY ALL""",
    "summary_detectors": f"""
WITH {_SAMPLES},
d AS (SELECT unnest($detectors::VARCHAR[]) AS detector),
fl AS (SELECT DISTINCT sample_id, detector FROM flags WHERE run_id = $run),
x AS (SELECT s.*, d.detector, fl.sample_id IS NOT NULL AS flagged,
             d.detector NOT IN (SELECT unnest($image::VARCHAR[])) OR s.with_image AS eligible
      FROM s CROSS JOIN d LEFT JOIN fl ON fl.sample_id = s.sample_id AND fl.detector = d.detector)
SELECT run_id, benchmark, subset, detector, count(*) FILTER (flagged), count(*) FILTER (eligible),
       count(*) FILTER (eligible AND flagged), count(grade) FILTER (eligible),
       count(*) FILTER (eligible AND grade), count(grade) FILTER (eligible AND flagged),
       count(*) FILTER (eligible AND flagged AND grade)
FROM x GROUP BY ALL""",
    "summary_findings": f"""
WITH {_SAMPLES}
SELECT s.run_id, s.benchmark, s.subset, f.detector, f.severity, count(*)
FROM flags f JOIN s USING (run_id, sample_id) GROUP BY ALL""",
    "summary_lengths": f"""
WITH {_SAMPLES}
SELECT run_id, benchmark, subset, 'chars', chars, count(*) FROM s WHERE chars IS NOT NULL GROUP BY ALL
UNION ALL
SELECT run_id, benchmark, subset, 'tokens', completion_tokens, count(*) FROM s
WHERE completion_tokens IS NOT NULL GROUP BY ALL""",
    "summary_onsets": f"""
WITH {_SAMPLES}
SELECT s.run_id, s.benchmark, s.subset, f.severity,
       least(greatest(floor(f.char_start / greatest(s.chars, 1) * {ONSET_BINS}), 0), {ONSET_BINS - 1})::INTEGER,
       count(*)
FROM flags f JOIN s USING (run_id, sample_id)
WHERE f.detector IN (SELECT unnest($loops::VARCHAR[])) AND f.char_start IS NOT NULL GROUP BY ALL""",
}


def signature() -> str:
    """What a summary depends on besides the data: the registry's detectors, which need an image
    and which find loops. A summary made under another registry is stale."""
    return ";".join([",".join(registry.names()), ",".join(registry.image_detectors()), ",".join(_loops())])


def _loops() -> list[str]:
    return [s.name for s in registry.specs() if s.collapse]


def mark_stale(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> None:
    """Mark runs' summaries stale (call in the transaction of the write that changes them)."""
    if run_ids:
        con.execute("""INSERT INTO summary_state (run_id, fresh) SELECT DISTINCT unnest(?::VARCHAR[]), false
                       ON CONFLICT (run_id) DO UPDATE SET fresh = false""", [list(run_ids)])


def forget(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Drop a run's summary rows and state (before its rows move elsewhere, e.g. a merge)."""
    for table in (*TABLES, "summary_state"):
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])


def refresh(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> None:
    """Recompute the summaries of `run_ids` (the caller owns the transaction)."""
    params = {"detectors": registry.names(), "image": registry.image_detectors(), "loops": _loops()}
    for run_id in dict.fromkeys(run_ids):
        for table, sql in _REFRESH.items():
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            used = {k: v for k, v in params.items() if f"${k}" in sql}
            con.execute(f"INSERT INTO {table} {sql}", {"run": run_id, **used})
        con.execute(
            """INSERT OR REPLACE INTO summary_state (run_id, fresh, detectors, n_samples, n_flags, refreshed_at)
               SELECT ?, true, ?, (SELECT count(*) FROM samples WHERE run_id = ?),
                      (SELECT count(*) FROM flags WHERE run_id = ?), now()""",
            [run_id, signature(), run_id, run_id])


def stale_runs(con: duckdb.DuckDBPyConnection, runs: list[str] | None = None) -> list[str]:
    """Runs (of `runs`, default all) whose summaries must be recomputed before they are shown."""
    return [r[0] for r in con.execute(
        """WITH n AS (SELECT run_id, count(*) AS n FROM samples GROUP BY run_id),
                f AS (SELECT run_id, count(*) AS n FROM flags GROUP BY run_id)
           SELECT r.run_id FROM runs r LEFT JOIN summary_state z USING (run_id)
           LEFT JOIN n USING (run_id) LEFT JOIN f USING (run_id)
           WHERE (? OR r.run_id IN (SELECT unnest(?::VARCHAR[])))
             AND (z.run_id IS NULL OR NOT z.fresh OR z.detectors IS DISTINCT FROM ?
                  OR z.n_samples <> coalesce(n.n, 0) OR z.n_flags <> coalesce(f.n, 0))
           ORDER BY r.run_id""", [runs is None, runs or [], signature()]).fetchall()]


def ensure_fresh(con: duckdb.DuckDBPyConnection, runs: list[str] | None = None) -> list[str]:
    """Recompute stale summaries (one transaction); returns the runs recomputed. Cheap when fresh:
    two grouped counts."""
    stale = stale_runs(con, runs)
    if stale:
        con.begin()
        try:
            refresh(con, stale)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return stale


# ---- reads (pages): the scope filter of queries.SCOPE_SQL on the summaries' group keys
_SCOPE = """g.run_id IN (SELECT unnest(?::VARCHAR[]))
    AND (len(?::VARCHAR[]) = 0 OR g.benchmark IN (SELECT unnest(?::VARCHAR[])))
    AND (len(?::VARCHAR[]) = 0 OR g.subset IN (SELECT unnest(?::VARCHAR[])))"""

# Per subset (label) and detector: share of eligible samples flagged (image detectors: of samples with an image).
FLAG_RATE_BY_SUBSET = f"""
SELECT g.label AS subset, d.detector, sum(d.flagged_eligible) / sum(d.eligible) AS flag_rate,
       sum(d.eligible)::BIGINT AS samples
FROM summary_detectors d JOIN summary_groups g USING (run_id, benchmark, subset)
WHERE {_SCOPE} AND d.detector IN (SELECT unnest(?::VARCHAR[]))
GROUP BY ALL HAVING sum(d.eligible) > 0 ORDER BY subset, d.detector
"""

# Accuracy of graded, eligible samples with and without each detector's flag.
ACCURACY_BY_FLAG = f"""
WITH a AS (SELECT d.detector, sum(d.flagged_correct) AS fc, sum(d.flagged_graded) AS fg,
                  sum(d.eligible_correct - d.flagged_correct) AS nc, sum(d.eligible_graded - d.flagged_graded) AS ng
           FROM summary_detectors d JOIN summary_groups g USING (run_id, benchmark, subset)
           WHERE {_SCOPE} AND d.detector IN (SELECT unnest(?::VARCHAR[])) GROUP BY d.detector)
SELECT * FROM (SELECT detector, 'flagged' AS status, fc / fg AS accuracy, fg::BIGINT AS samples FROM a
               UNION ALL
               SELECT detector, 'not flagged', nc / ng, ng::BIGINT FROM a)
WHERE samples > 0 ORDER BY detector, status
"""


def detector_params(scope: list) -> list:
    """Parameters of FLAG_RATE_BY_SUBSET / ACCURACY_BY_FLAG: the scope, then the registry's detectors."""
    return [*scope, registry.names()]


# Trace lengths binned in SQL (tokens when any sample in scope has a token count, else characters):
# about 60 bins of a 1/2/5 x 10^k width (at least 1), aligned to multiples of it.
LENGTH_BINS = f"""
WITH l AS (SELECT g.run_id, g.unit, g.length, g.traces FROM summary_lengths g WHERE {_SCOPE}),
u AS (SELECT CASE WHEN bool_or(unit = 'tokens') THEN 'tokens' ELSE 'chars' END AS unit FROM l),
v AS (SELECT l.* FROM l JOIN u USING (unit)),
r AS (SELECT greatest(max(length) - min(length), 1e-9) / 60 AS raw FROM v),
e AS (SELECT raw, pow(10, floor(log10(raw))) AS e FROM r),
w AS (SELECT greatest(CASE WHEN e >= raw THEN e WHEN 2 * e >= raw THEN 2 * e WHEN 5 * e >= raw THEN 5 * e
                           ELSE 10 * e END, 1.0) AS width FROM e)
SELECT v.run_id, v.unit, floor(v.length / w.width) * w.width AS bin_start, w.width, sum(v.traces)::BIGINT AS traces
FROM v, w GROUP BY ALL ORDER BY v.run_id, bin_start
"""

# Samples in scope (the Traces page's total when no other filter is set).
GROUP_COUNT = f"SELECT coalesce(sum(g.samples), 0)::BIGINT AS total FROM summary_groups g WHERE {_SCOPE}"

# Loop onsets (findings of the registry's loop detectors) per severity, in ONSET_BINS bins.
ONSETS = f"""
SELECT g.severity, g.bin, sum(g.loops)::BIGINT AS loops FROM summary_onsets g WHERE {_SCOPE}
GROUP BY ALL ORDER BY g.severity, g.bin
"""

# Failures page: findings per detector and severity in scope (detector / severity filters as parameters).
FINDING_COUNTS = f"""
SELECT g.detector, g.severity, sum(g.findings)::BIGINT AS findings FROM summary_findings g
WHERE {_SCOPE} AND (len(?::VARCHAR[]) = 0 OR g.detector IN (SELECT unnest(?::VARCHAR[])))
  AND (len(?::VARCHAR[]) = 0 OR g.severity IN (SELECT unnest(?::VARCHAR[])))
GROUP BY ALL ORDER BY g.detector, g.severity
"""


def runs_summary_sql() -> str:
    """One row per run: counts, the one accuracy (and where it came from), and per registered detector
    the share of samples it flags (detectors that need an image: of the samples with an image) and
    the count. Column names: `<detector>` (share) and `<detector>_samples` (count). Reads the
    summaries: call `ensure_fresh` first."""
    per_detector = []
    for spec in registry.specs():
        denominator = "g.with_image" if spec.requires_image else "g.samples"
        per_detector.append(
            f"coalesce(f.{spec.name}, 0) / greatest({denominator}, 1) AS {spec.name}, "
            f"coalesce(f.{spec.name}, 0) AS {spec.name}_samples")
    counts = ", ".join(f"sum(flagged) FILTER (WHERE detector = '{s.name}')::BIGINT AS {s.name}"
                       for s in registry.specs())
    return f"""
WITH g AS (
    SELECT run_id, sum(samples)::BIGINT AS samples, sum(with_image)::BIGINT AS with_image,
           sum(graded)::BIGINT AS graded, sum(correct)::BIGINT AS n_correct,
           sum(graded_by_source)::BIGINT AS graded_by_source, sum(graded_by_workbench)::BIGINT AS graded_by_workbench,
           sum(failed)::BIGINT AS failed
    FROM summary_groups GROUP BY run_id),
f AS (SELECT run_id{', ' + counts if counts else ''} FROM summary_detectors GROUP BY run_id)
SELECT r.run_id, r.name, r.model, r.source, coalesce(g.samples, 0) AS samples,
       coalesce(g.with_image, 0) AS with_image,
       CASE WHEN g.graded > 0 THEN g.n_correct / g.graded END AS accuracy, coalesce(g.graded, 0) AS graded,
       CASE WHEN g.graded_by_source > 0 AND g.graded_by_workbench > 0 THEN 'source + workbench'
            WHEN g.graded_by_source > 0 THEN 'source' WHEN g.graded_by_workbench > 0 THEN 'workbench' END AS graded_by,
       coalesce(g.failed, 0) AS failed, r.synthetic, r.created_at, r.updated_at
       {''.join(', ' + p for p in per_detector)}
FROM runs r LEFT JOIN g USING (run_id) LEFT JOIN f USING (run_id)
ORDER BY r.created_at, r.run_id"""


def refresh_stale(db: object) -> list[str]:
    """`ensure_fresh` for every run, on a short connection to the store file `db` (the end of an analysis)."""
    from workbench.store.db import connect
    with connect(db) as con:  # type: ignore[arg-type]
        return ensure_fresh(con)
