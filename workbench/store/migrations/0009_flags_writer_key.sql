-- Findings keyed by tier too (issue 14): `workbench analyze` owns the text-tier rows and
-- `workbench probe` the model-tier rows of the same detector; each writer replaces only its own.
-- DuckDB cannot change a primary key in place: copy into a new table and swap.
CREATE TABLE flags_v2 (
    run_id           VARCHAR NOT NULL,
    sample_id        VARCHAR NOT NULL,
    detector         VARCHAR NOT NULL,
    detector_version VARCHAR NOT NULL,
    finding_index    INTEGER NOT NULL,
    tier             VARCHAR NOT NULL DEFAULT 'text',
    step_index       INTEGER,
    char_start       INTEGER,
    char_end         INTEGER,
    severity         VARCHAR NOT NULL,
    score            DOUBLE NOT NULL,
    evidence         VARCHAR,
    details          JSON,
    PRIMARY KEY (run_id, sample_id, detector, tier, finding_index)
);
INSERT INTO flags_v2 BY NAME SELECT * FROM flags;
DROP TABLE flags;
ALTER TABLE flags_v2 RENAME TO flags;
