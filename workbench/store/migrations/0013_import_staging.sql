-- 0013 (issue 18): imports stage their rows batch by batch (each batch committed, so memory is
-- bounded by a batch, not by the file) and publish them into `samples` in one transaction at the
-- end; readers never read the staging tables. A crash leaves the staged batches: running the same
-- import again resumes after the last one; another import discards them.
CREATE TABLE import_jobs (
    import_id   VARCHAR PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,
    started_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    description VARCHAR
);

CREATE TABLE import_batches (
    import_id      VARCHAR NOT NULL,
    path           VARCHAR NOT NULL,
    batch_no       INTEGER NOT NULL,
    last_line      BIGINT NOT NULL,
    n_records      INTEGER NOT NULL,
    ids_from_lines INTEGER NOT NULL,
    images_stored  INTEGER NOT NULL,
    images_missing INTEGER NOT NULL,
    state          JSON NOT NULL,
    PRIMARY KEY (import_id, path, batch_no)
);

CREATE TABLE import_staging (
    import_id         VARCHAR NOT NULL,
    run_id            VARCHAR NOT NULL,
    action            VARCHAR NOT NULL,
    superseded        BOOLEAN NOT NULL DEFAULT false,
    base_id           VARCHAR NOT NULL,
    row_hash          VARCHAR NOT NULL,
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
    n_images          INTEGER,
    finish_reason     VARCHAR,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    status            VARCHAR,
    error             VARCHAR,
    metadata          VARCHAR,
    source_file       VARCHAR,
    source_line       INTEGER,
    content_hash      VARCHAR NOT NULL,
    source_id         VARCHAR,
    source_key        VARCHAR
);
