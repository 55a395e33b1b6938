-- 0001_core: runs, samples, images, analysis results, tags. Append-only: never edit a shipped
-- migration; add a new numbered file instead.

CREATE TABLE runs (
    run_id      VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    model       VARCHAR,
    source      VARCHAR,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    settings    JSON,
    n_samples   INTEGER NOT NULL DEFAULT 0,
    n_with_image INTEGER NOT NULL DEFAULT 0,
    n_correct   INTEGER NOT NULL DEFAULT 0,
    n_graded    INTEGER NOT NULL DEFAULT 0,
    n_failed    INTEGER NOT NULL DEFAULT 0,
    synthetic   BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE samples (
    run_id            VARCHAR NOT NULL,
    sample_id         VARCHAR NOT NULL,
    question          VARCHAR,
    response          VARCHAR,
    final_answer      VARCHAR,
    ground_truth      VARCHAR,
    correct           BOOLEAN,
    benchmark         VARCHAR,
    subset            VARCHAR,
    model             VARCHAR,
    image_ids         VARCHAR[],
    n_images          INTEGER NOT NULL DEFAULT 0,
    finish_reason     VARCHAR,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    status            VARCHAR NOT NULL DEFAULT 'ok',
    error             VARCHAR,
    metadata          JSON,
    source_file       VARCHAR,
    source_line       INTEGER,
    content_hash      VARCHAR NOT NULL,
    updated_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, sample_id)
);

CREATE TABLE images (
    image_id     VARCHAR PRIMARY KEY,
    missing      BOOLEAN NOT NULL,
    width        INTEGER,
    height       INTEGER,
    format       VARCHAR,
    n_bytes      BIGINT,
    original_ref VARCHAR,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE image_blobs (
    image_id VARCHAR PRIMARY KEY,
    data     BLOB NOT NULL
);

CREATE TABLE steps (
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
    analyzer_version VARCHAR NOT NULL,
    PRIMARY KEY (run_id, sample_id, step_index)
);

CREATE TABLE trace_stats (
    run_id            VARCHAR NOT NULL,
    sample_id         VARCHAR NOT NULL,
    n_steps           INTEGER NOT NULL,
    n_switches        INTEGER NOT NULL,
    n_reflections     INTEGER NOT NULL,
    n_candidates      INTEGER NOT NULL,
    extracted_answer  VARCHAR,
    answer_source     VARCHAR,
    extracted_correct BOOLEAN,
    truncated         BOOLEAN NOT NULL,
    n_chars           INTEGER NOT NULL,
    analyzer_version  VARCHAR NOT NULL,
    PRIMARY KEY (run_id, sample_id)
);

CREATE TABLE flags (
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
    PRIMARY KEY (run_id, sample_id, detector, finding_index)
);

CREATE TABLE analysis_status (
    run_id           VARCHAR NOT NULL,
    sample_id        VARCHAR NOT NULL,
    detector         VARCHAR NOT NULL,
    detector_version VARCHAR NOT NULL,
    content_hash     VARCHAR NOT NULL,
    analyzed_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, sample_id, detector)
);

CREATE SEQUENCE tag_id_seq;
CREATE TABLE tags (
    tag_id     BIGINT PRIMARY KEY DEFAULT nextval('tag_id_seq'),
    run_id     VARCHAR NOT NULL,
    sample_id  VARCHAR NOT NULL,
    step_index INTEGER,
    tag        VARCHAR,
    note       VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
