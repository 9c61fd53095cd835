-- 0002: the publication as a recorded state machine (pending -> iceberg-committed -> published),
-- one current row per dataset and date plus every transition, and the Iceberg snapshot's sequence
-- number next to its id so that a load can refuse a snapshot older than the one recorded.
CREATE TABLE risk.publication_states (
    dataset          text        NOT NULL,
    cob_date         date        NOT NULL,
    state            text        NOT NULL CHECK (state IN ('pending', 'iceberg-committed', 'published')),
    run_id           text        NOT NULL,
    input_sha256     text        NOT NULL,
    content_checksum text        NOT NULL,
    row_count        bigint      NOT NULL,
    snapshot_id      bigint,
    snapshot_seq     bigint,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, cob_date)
);

CREATE TABLE risk.publication_state_log (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset          text        NOT NULL,
    cob_date         date        NOT NULL,
    state            text        NOT NULL,
    run_id           text        NOT NULL,
    input_sha256     text        NOT NULL,
    content_checksum text        NOT NULL,
    row_count        bigint      NOT NULL,
    snapshot_id      bigint,
    snapshot_seq     bigint,
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX publication_state_log_dataset_date ON risk.publication_state_log (dataset, cob_date);

ALTER TABLE risk.publications ADD COLUMN snapshot_seq bigint;
ALTER TABLE risk.publication_log ADD COLUMN snapshot_seq bigint;
