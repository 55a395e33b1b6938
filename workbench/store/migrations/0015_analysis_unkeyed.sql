-- 0015 (issue 18): `analysis_status` and `trace_stats` without primary keys, as `steps` in 0014. Their
-- indexes (5 and 1 entries per sample: 6 million at a million traces) were maintained by every
-- analysis write and written again by its checkpoint, while no query used them (DuckDB joins by hash).
-- The rows stay unique by construction: store/findings.write_analysis deletes a re-analysed sample's
-- rows before inserting the new ones, in one transaction (tests/integration/test_pipeline.py checks it).
CREATE TABLE analysis_status_unkeyed (
    run_id           VARCHAR NOT NULL,
    sample_id        VARCHAR NOT NULL,
    detector         VARCHAR NOT NULL,
    detector_version VARCHAR NOT NULL,
    content_hash     VARCHAR NOT NULL,
    analyzed_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
INSERT INTO analysis_status_unkeyed SELECT * FROM analysis_status ORDER BY run_id, sample_id, detector;
DROP TABLE analysis_status;
ALTER TABLE analysis_status_unkeyed RENAME TO analysis_status;
CREATE TABLE trace_stats_unkeyed (
    run_id             VARCHAR NOT NULL,
    sample_id          VARCHAR NOT NULL,
    n_steps            INTEGER NOT NULL,
    n_switches         INTEGER NOT NULL,
    n_reflections      INTEGER NOT NULL,
    n_candidates       INTEGER NOT NULL,
    extracted_answer   VARCHAR,
    answer_source      VARCHAR,
    extracted_correct  BOOLEAN,
    truncated          BOOLEAN NOT NULL,
    n_chars            INTEGER NOT NULL,
    analyzer_version   VARCHAR NOT NULL,
    question_type      VARCHAR,
    conclusion         VARCHAR,
    conclusion_source  VARCHAR,
    conclusion_correct BOOLEAN,
    reported_answer    VARCHAR,
    reported_correct   BOOLEAN,
    grade_basis        VARCHAR,
    truncation         VARCHAR
);
INSERT INTO trace_stats_unkeyed SELECT * FROM trace_stats ORDER BY run_id, sample_id;
DROP TABLE trace_stats;
ALTER TABLE trace_stats_unkeyed RENAME TO trace_stats;
