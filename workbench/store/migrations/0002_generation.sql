-- 0002_generation: per-token records of model runs and the bookkeeping of run jobs.

CREATE TABLE tokens (
    run_id           VARCHAR NOT NULL,
    sample_id        VARCHAR NOT NULL,
    token_index      INTEGER NOT NULL,
    token_id         INTEGER,
    text             VARCHAR NOT NULL,
    logprob          DOUBLE,
    entropy          DOUBLE,
    top_alternatives JSON,
    char_start       INTEGER NOT NULL,
    char_end         INTEGER NOT NULL,
    PRIMARY KEY (run_id, sample_id, token_index)
);

CREATE TABLE run_jobs (
    job_id           VARCHAR PRIMARY KEY,
    run_id           VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,
    pid              INTEGER,
    backend          VARCHAR,
    model            VARCHAR,
    options          JSON,
    n_total          INTEGER,
    n_done           INTEGER NOT NULL DEFAULT 0,
    n_failed         INTEGER NOT NULL DEFAULT 0,
    n_skipped        INTEGER NOT NULL DEFAULT 0,
    tokens_generated BIGINT NOT NULL DEFAULT 0,
    generation_seconds DOUBLE NOT NULL DEFAULT 0,
    current_sample   VARCHAR,
    message          VARCHAR,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    started_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    heartbeat_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at      TIMESTAMP
);
