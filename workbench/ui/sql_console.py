"""SQL console component over the locked read-only query path (the same as `workbench sql`)."""

from __future__ import annotations

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
