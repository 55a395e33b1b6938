-- 0010_run_replicas: batched, data-parallel model runs. Which host a job runs on (a job whose
-- process is gone is marked dead), its batch size and replica count, and one row per replica
-- (worker process) with its own progress, so the Run page can show tokens/s per replica.

ALTER TABLE run_jobs ADD COLUMN host VARCHAR;
ALTER TABLE run_jobs ADD COLUMN batch_size INTEGER DEFAULT 1;
ALTER TABLE run_jobs ADD COLUMN replicas INTEGER DEFAULT 1;

CREATE TABLE run_job_replicas (
    job_id           VARCHAR NOT NULL,
    replica          INTEGER NOT NULL,
    pid              INTEGER,
    gpus             VARCHAR,
    status           VARCHAR NOT NULL,
    n_done           INTEGER NOT NULL DEFAULT 0,
    n_failed         INTEGER NOT NULL DEFAULT 0,
    in_flight        INTEGER NOT NULL DEFAULT 0,
    tokens_generated BIGINT NOT NULL DEFAULT 0,
    busy_seconds     DOUBLE NOT NULL DEFAULT 0,
    message          VARCHAR,
    heartbeat_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (job_id, replica)
);
