-- 0012 (issue 18 item 3): summary tables behind the Overview, the runs table and the Failures
-- counts, so pages read a few hundred rows whatever the size of the runs. Rows are per run and
-- group (benchmark, subset: '(none)' when absent); store/summary.py computes them and knows when
-- they are stale (summary_state).
-- samples.n_chars: the response's length, written with the row, so sorting and filtering a million
-- traces by length reads one integer column, not the text.
ALTER TABLE samples ADD COLUMN n_chars INTEGER;
UPDATE samples SET n_chars = length(response);
CREATE TABLE summary_state (
    run_id       VARCHAR PRIMARY KEY,
    fresh        BOOLEAN NOT NULL,
    detectors    VARCHAR,
    n_samples    BIGINT,
    n_flags      BIGINT,
    refreshed_at TIMESTAMP
);
CREATE TABLE summary_groups (
    run_id              VARCHAR NOT NULL,
    benchmark           VARCHAR NOT NULL,
    subset              VARCHAR NOT NULL,
    label               VARCHAR NOT NULL,
    samples             BIGINT NOT NULL,
    with_image          BIGINT NOT NULL,
    graded              BIGINT NOT NULL,
    correct             BIGINT NOT NULL,
    graded_by_source    BIGINT NOT NULL,
    graded_by_workbench BIGINT NOT NULL,
    failed              BIGINT NOT NULL,
    PRIMARY KEY (run_id, benchmark, subset)
);
CREATE TABLE summary_detectors (
    run_id          VARCHAR NOT NULL,
    benchmark       VARCHAR NOT NULL,
    subset          VARCHAR NOT NULL,
    detector        VARCHAR NOT NULL,
    flagged         BIGINT NOT NULL,
    eligible        BIGINT NOT NULL,
    flagged_eligible BIGINT NOT NULL,
    eligible_graded BIGINT NOT NULL,
    eligible_correct BIGINT NOT NULL,
    flagged_graded  BIGINT NOT NULL,
    flagged_correct BIGINT NOT NULL,
    PRIMARY KEY (run_id, benchmark, subset, detector)
);
CREATE TABLE summary_findings (
    run_id    VARCHAR NOT NULL,
    benchmark VARCHAR NOT NULL,
    subset    VARCHAR NOT NULL,
    detector  VARCHAR NOT NULL,
    severity  VARCHAR NOT NULL,
    findings  BIGINT NOT NULL,
    PRIMARY KEY (run_id, benchmark, subset, detector, severity)
);
CREATE TABLE summary_lengths (
    run_id    VARCHAR NOT NULL,
    benchmark VARCHAR NOT NULL,
    subset    VARCHAR NOT NULL,
    unit      VARCHAR NOT NULL,
    length    BIGINT NOT NULL,
    traces    BIGINT NOT NULL,
    PRIMARY KEY (run_id, benchmark, subset, unit, length)
);
CREATE TABLE summary_onsets (
    run_id    VARCHAR NOT NULL,
    benchmark VARCHAR NOT NULL,
    subset    VARCHAR NOT NULL,
    severity  VARCHAR NOT NULL,
    bin       INTEGER NOT NULL,
    loops     BIGINT NOT NULL,
    PRIMARY KEY (run_id, benchmark, subset, severity, bin)
);
