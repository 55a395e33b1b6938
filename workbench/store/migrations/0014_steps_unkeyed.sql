-- 0014 (issue 18): `steps` without a primary key. Its index (run_id, sample_id, step_index) held one
-- entry per step (34 million at a million traces): every analysis write paid to insert into it and the
-- checkpoint to store it, while no query used it (DuckDB scans compound keys). The rows stay unique by
-- construction: store/findings.write_analysis replaces a sample's steps in the transaction that
-- records its analysis (tests/integration/test_pipeline.py checks it).
CREATE TABLE steps_unkeyed (
    run_id          VARCHAR NOT NULL,
    sample_id       VARCHAR NOT NULL,
    step_index      INTEGER NOT NULL,
    char_start      INTEGER NOT NULL,
    char_end        INTEGER NOT NULL,
    role            VARCHAR NOT NULL,
    n_chars         INTEGER NOT NULL,
    image_ref_count INTEGER NOT NULL DEFAULT 0,
    token_start     INTEGER,
    token_end       INTEGER,
    analyzer_version VARCHAR NOT NULL
);
INSERT INTO steps_unkeyed SELECT * FROM steps ORDER BY run_id, sample_id, step_index;
DROP TABLE steps;
ALTER TABLE steps_unkeyed RENAME TO steps;
