-- 0007_sources: where every sample came from (the source's own id and the source it belongs to), what a
-- run's source reported about itself (config, metrics) and one row per imported file. Existing sample
-- ids (and so every URL) are left as they are: their source id is their sample id.

ALTER TABLE samples ADD COLUMN source_id VARCHAR;
ALTER TABLE samples ADD COLUMN source_key VARCHAR;
UPDATE samples SET source_id = sample_id WHERE source_id IS NULL;
UPDATE samples SET source_key = regexp_extract(source_file, '[^/\\]+$') WHERE source_file IS NOT NULL;

ALTER TABLE runs ADD COLUMN reported JSON;
ALTER TABLE runs ADD COLUMN config JSON;

CREATE TABLE import_files (
    run_id      VARCHAR NOT NULL,
    path        VARCHAR NOT NULL,
    source_key  VARCHAR NOT NULL,
    format      VARCHAR NOT NULL,
    task        VARCHAR,
    role        VARCHAR NOT NULL,
    n_bytes     BIGINT,
    n_records   INTEGER,
    grade_field VARCHAR,
    counts      JSON,
    notes       JSON,
    imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, path)
);
