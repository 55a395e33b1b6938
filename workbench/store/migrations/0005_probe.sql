-- 0005_probe: attention / visual-dependence probes (workbench probe). Re-probing a sample
-- replaces its rows. Per-token maps live in files under probe_dir (probe_traces.maps_path).

CREATE TABLE probe_traces (
    run_id              VARCHAR NOT NULL,
    sample_id           VARCHAR NOT NULL,
    probe_version       VARCHAR NOT NULL,
    model               VARCHAR,
    status              VARCHAR NOT NULL,
    error               VARCHAR,
    layers              INTEGER[],
    head_max            BOOLEAN NOT NULL DEFAULT false,
    dependence          VARCHAR,
    n_tokens            INTEGER,
    token_source        VARCHAR,
    prompt_tokens       INTEGER,
    n_image_tokens      INTEGER,
    grids               JSON,
    maps_path           VARCHAR,
    maps_bytes          BIGINT,
    early_image_share   DOUBLE,
    late_image_share    DOUBLE,
    early_visual_dependence DOUBLE,
    late_visual_dependence  DOUBLE,
    content_hash        VARCHAR,
    seconds             DOUBLE,
    probed_at           TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, sample_id)
);

CREATE TABLE probe_steps (
    run_id                VARCHAR NOT NULL,
    sample_id             VARCHAR NOT NULL,
    step_index            INTEGER NOT NULL,
    token_start           INTEGER NOT NULL,
    token_end             INTEGER NOT NULL,
    relative_position     DOUBLE NOT NULL,
    image_attention_share DOUBLE,
    layer_shares          DOUBLE[],
    visual_dependence     DOUBLE,
    peak_row              INTEGER,
    peak_col              INTEGER,
    PRIMARY KEY (run_id, sample_id, step_index)
);
