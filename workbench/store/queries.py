"""Named read queries for the app, the CLI and the report. Parameterised: never string-built
from user input (the only interpolations are whitelisted column names for sorting)."""

from __future__ import annotations

from dataclasses import dataclass, field

DETECTORS = ("language_mixing", "repetition_loop", "grounding_loss")

RUNS = """
SELECT r.run_id, r.name, r.model, r.source, r.n_samples AS samples, r.n_with_image AS with_image,
       CASE WHEN r.n_graded > 0 THEN r.n_correct / r.n_graded END AS accuracy, r.n_failed AS failed, r.synthetic,
       r.created_at,
       (SELECT count(DISTINCT sample_id) FROM flags f WHERE f.run_id = r.run_id AND f.detector = 'language_mixing')
         / greatest(r.n_samples, 1) AS language_mixing,
       (SELECT count(DISTINCT sample_id) FROM flags f WHERE f.run_id = r.run_id AND f.detector = 'repetition_loop')
         / greatest(r.n_samples, 1) AS repetition_loop,
       (SELECT count(DISTINCT sample_id) FROM flags f WHERE f.run_id = r.run_id AND f.detector = 'grounding_loss')
         / greatest(r.n_with_image, 1) AS grounding_loss
FROM runs r ORDER BY r.created_at, r.run_id
"""

FILTER_VALUES = """
SELECT DISTINCT coalesce(benchmark, '(none)') AS benchmark, coalesce(subset, '(none)') AS subset
FROM samples WHERE run_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1, 2
"""

_SCOPE = """s.run_id IN (SELECT unnest(?::VARCHAR[]))
    AND (len(?::VARCHAR[]) = 0 OR coalesce(s.benchmark, '(none)') IN (SELECT unnest(?::VARCHAR[])))
    AND (len(?::VARCHAR[]) = 0 OR coalesce(s.subset, '(none)') IN (SELECT unnest(?::VARCHAR[])))"""


def scope_params(runs: list[str], benchmarks: list[str], subsets: list[str]) -> list:
    return [runs, benchmarks, benchmarks, subsets, subsets]


FLAG_RATE_BY_SUBSET = f"""
SELECT coalesce(s.subset, s.benchmark, '(none)') AS subset, d.detector,
       avg(CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.run_id = s.run_id AND f.sample_id = s.sample_id
                             AND f.detector = d.detector) THEN 1.0 ELSE 0.0 END) AS flag_rate,
       count(*) AS samples
FROM samples s, (SELECT unnest(['language_mixing', 'repetition_loop', 'grounding_loss']) AS detector) d
WHERE {_SCOPE} AND (d.detector <> 'grounding_loss' OR s.n_images > 0)
GROUP BY ALL ORDER BY subset, d.detector
"""

ACCURACY_BY_FLAG = f"""
SELECT d.detector,
       CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.run_id = s.run_id AND f.sample_id = s.sample_id
                         AND f.detector = d.detector) THEN 'flagged' ELSE 'not flagged' END AS status,
       avg(CASE WHEN s.correct THEN 1.0 ELSE 0.0 END) AS accuracy, count(*) AS samples
FROM samples s, (SELECT unnest(['language_mixing', 'repetition_loop', 'grounding_loss']) AS detector) d
WHERE {_SCOPE} AND s.correct IS NOT NULL AND (d.detector <> 'grounding_loss' OR s.n_images > 0)
GROUP BY ALL ORDER BY d.detector, status
"""

LENGTHS = f"""
SELECT s.run_id, length(s.response) AS chars, s.completion_tokens, s.finish_reason, t.truncated
FROM samples s LEFT JOIN trace_stats t USING (run_id, sample_id) WHERE {_SCOPE}
"""

LOOP_ONSETS = f"""
SELECT f.run_id, f.sample_id, f.severity, f.char_start / greatest(length(s.response), 1) AS relative_onset,
       f.char_start AS onset_chars
FROM flags f JOIN samples s USING (run_id, sample_id)
WHERE f.detector = 'repetition_loop' AND {_SCOPE}
"""

SORTS = {"sample": "s.sample_id", "length": "length(s.response)", "steps": "t.n_steps", "flags": "n_flags",
         "run": "s.run_id"}


@dataclass
class SampleFilter:
    runs: list[str]
    benchmarks: list[str] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)       # flagged by all of these
    severities: list[str] = field(default_factory=list)
    correct: str = "any"                                      # any | correct | wrong | ungraded
    min_chars: int = 0
    max_chars: int | None = None
    text: str = ""                                            # search in question and response
    sort: str = "sample"
    descending: bool = False


def sample_list(f: SampleFilter, *, limit: int, offset: int) -> tuple[str, list]:
    """SQL + params for one page of the filtered sample list (and `count(*) OVER ()` for the total)."""
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
    if f.correct == "correct":
        where.append("s.correct")
    elif f.correct == "wrong":
        where.append("NOT s.correct")
    elif f.correct == "ungraded":
        where.append("s.correct IS NULL")
    if f.min_chars:
        where.append("length(s.response) >= ?")
        params.append(f.min_chars)
    if f.max_chars is not None:
        where.append("length(s.response) <= ?")
        params.append(f.max_chars)
    if f.text.strip():
        where.append("(contains(lower(s.response), lower(?)) OR contains(lower(s.question), lower(?)))")
        params += [f.text.strip(), f.text.strip()]
    order = SORTS.get(f.sort, "s.sample_id") + (" DESC" if f.descending else "") + ", s.run_id, s.sample_id"
    sql = f"""
    SELECT s.run_id, s.sample_id, s.benchmark, s.subset, s.correct, length(s.response) AS chars, t.n_steps AS steps,
           (SELECT count(*) FROM flags x WHERE x.run_id = s.run_id AND x.sample_id = s.sample_id) AS n_flags,
           (SELECT string_agg(DISTINCT x.detector, ', ') FROM flags x
              WHERE x.run_id = s.run_id AND x.sample_id = s.sample_id) AS detectors,
           left(s.question, 140) AS question, count(*) OVER () AS total
    FROM samples s LEFT JOIN trace_stats t USING (run_id, sample_id)
    WHERE {' AND '.join(where)}
    ORDER BY {order} NULLS LAST LIMIT ? OFFSET ?"""
    return sql, params + [limit, offset]


SAMPLE = """
SELECT s.*, t.n_steps, t.n_switches, t.n_reflections, t.n_candidates, t.extracted_answer, t.answer_source,
       t.extracted_correct, t.truncated, r.name AS run_name, r.synthetic
FROM samples s JOIN runs r USING (run_id) LEFT JOIN trace_stats t USING (run_id, sample_id)
WHERE s.run_id = ? AND s.sample_id = ?
"""
STEPS = "SELECT * FROM steps WHERE run_id = ? AND sample_id = ? ORDER BY step_index"
FLAGS = "SELECT * FROM flags WHERE run_id = ? AND sample_id = ? ORDER BY char_start NULLS LAST, detector"
IMAGES = """SELECT i.image_id, i.missing, i.width, i.height, i.original_ref, b.data
            FROM (SELECT unnest(image_ids) AS image_id, generate_subscripts(image_ids, 1) AS pos
                  FROM samples WHERE run_id = ? AND sample_id = ?) u
            JOIN images i USING (image_id) LEFT JOIN image_blobs b USING (image_id) ORDER BY u.pos"""
TAGS = "SELECT tag_id, step_index, tag, note, created_at FROM tags WHERE run_id = ? AND sample_id = ? ORDER BY tag_id"
NEIGHBOUR_FLAGGED = """
SELECT sample_id FROM (SELECT DISTINCT sample_id FROM flags WHERE run_id = ?) f
WHERE CASE WHEN ? THEN sample_id > ? ELSE sample_id < ? END
ORDER BY CASE WHEN ? THEN sample_id END ASC, CASE WHEN NOT ? THEN sample_id END DESC LIMIT 1
"""
ADD_TAG = "INSERT INTO tags (run_id, sample_id, step_index, tag, note) VALUES (?, ?, ?, ?, ?)"
DELETE_TAG = "DELETE FROM tags WHERE tag_id = ? AND run_id = ? AND sample_id = ?"

FAILURES = f"""
SELECT f.run_id, f.sample_id, f.detector, f.severity, f.score, f.step_index, f.char_start, f.char_end,
       f.evidence, f.tier, s.benchmark, s.subset, s.correct
FROM flags f JOIN samples s USING (run_id, sample_id)
WHERE {_SCOPE}
  AND (len(?::VARCHAR[]) = 0 OR f.detector IN (SELECT unnest(?::VARCHAR[])))
  AND (len(?::VARCHAR[]) = 0 OR f.severity IN (SELECT unnest(?::VARCHAR[])))
ORDER BY f.run_id, f.sample_id, f.detector, f.finding_index
"""

SAME_QUESTION = """
SELECT run_id, sample_id FROM samples WHERE sample_id = ? AND run_id <> ? ORDER BY run_id
"""

# ---- probe (workbench probe)
PROBE_TRACE = """SELECT * FROM probe_traces WHERE run_id = ? AND sample_id = ?"""
PROBE_STEPS = """SELECT step_index, token_start, token_end, relative_position, image_attention_share,
                        image_attention_share_max, image_attention_lift, layer_shares,
                        visual_dependence, peak_row, peak_col
                 FROM probe_steps WHERE run_id = ? AND sample_id = ? ORDER BY step_index"""
PROBE_COUNTS = """SELECT run_id, count(*) FILTER (WHERE status = 'ok') AS probed, count(*) AS recorded
                  FROM probe_traces GROUP BY run_id"""
# Mean image reliance per tenth of the trace, split by outcome. Attention is relative to each
# trace's own early level (1 = as much as at the start); visual dependence is in nats/token.
RELIANCE_CURVE = """
SELECT ps.run_id, least(floor(ps.relative_position * 10), 9) / 10 + 0.05 AS position,
       CASE WHEN coalesce(s.correct, ts.extracted_correct) THEN 'correct'
            WHEN NOT coalesce(s.correct, ts.extracted_correct) THEN 'wrong' ELSE 'ungraded' END AS outcome,
       avg(ps.image_attention_share / nullif(pt.early_image_share, 0)) AS relative_attention,
       avg(ps.visual_dependence) AS visual_dependence,
       count(DISTINCT ps.sample_id) AS traces
FROM probe_steps ps JOIN probe_traces pt USING (run_id, sample_id)
JOIN samples s USING (run_id, sample_id) LEFT JOIN trace_stats ts USING (run_id, sample_id)
WHERE pt.status = 'ok' AND ps.token_end > ps.token_start AND ps.run_id IN (SELECT unnest(?::VARCHAR[]))
GROUP BY ALL ORDER BY ps.run_id, outcome, position"""
