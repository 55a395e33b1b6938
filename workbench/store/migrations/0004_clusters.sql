-- 0004_clusters: failure clustering results (workbench cluster). Re-running a clustering with the same
-- key replaces its rows.

CREATE TABLE cluster_runs (
    cluster_run_id VARCHAR PRIMARY KEY,
    unit           VARCHAR NOT NULL,
    method         VARCHAR NOT NULL,
    runs           VARCHAR[] NOT NULL,
    params         JSON,
    n_units        INTEGER NOT NULL,
    n_clusters     INTEGER NOT NULL,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE clusters (
    cluster_run_id VARCHAR NOT NULL,
    cluster_id     INTEGER NOT NULL,
    label          VARCHAR NOT NULL,
    terms          VARCHAR[],
    size           INTEGER NOT NULL,
    accuracy       DOUBLE,
    failure_mix    JSON,
    PRIMARY KEY (cluster_run_id, cluster_id)
);

CREATE TABLE cluster_members (
    cluster_run_id    VARCHAR NOT NULL,
    cluster_id        INTEGER NOT NULL,
    run_id            VARCHAR NOT NULL,
    sample_id         VARCHAR NOT NULL,
    step_index        INTEGER,
    x                 DOUBLE NOT NULL,
    y                 DOUBLE NOT NULL,
    distance          DOUBLE NOT NULL,
    representative    BOOLEAN NOT NULL,
    excerpt           VARCHAR
);
