-- 0002: the publication as a recorded state machine (pending -> iceberg-committed -> published),
-- one current row per dataset and date plus every transition, and the Iceberg snapshot's sequence
-- number next to its id so that a load can refuse a snapshot older than the one recorded.
CREATE TABLE publication_states (
    dataset          TEXT    NOT NULL,
    cob_date         TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'iceberg-committed', 'published')),
    run_id           TEXT    NOT NULL,
    input_sha256     TEXT    NOT NULL,
    content_checksum TEXT    NOT NULL,
    row_count        INTEGER NOT NULL,
    snapshot_id      INTEGER,
    snapshot_seq     INTEGER,
    updated_at       TEXT    NOT NULL,
    PRIMARY KEY (dataset, cob_date)
);

CREATE TABLE publication_state_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset          TEXT    NOT NULL,
    cob_date         TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    run_id           TEXT    NOT NULL,
    input_sha256     TEXT    NOT NULL,
    content_checksum TEXT    NOT NULL,
    row_count        INTEGER NOT NULL,
    snapshot_id      INTEGER,
    snapshot_seq     INTEGER,
    at               TEXT    NOT NULL
);

ALTER TABLE publications ADD COLUMN snapshot_seq INTEGER;
ALTER TABLE publication_log ADD COLUMN snapshot_seq INTEGER;
