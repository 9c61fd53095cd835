-- 0003: the publication as a recorded state machine (pending -> iceberg-committed -> published),
-- as on PostgreSQL and SQLite (their 0002): one current row per dataset and date plus every
-- transition, and the Iceberg snapshot's sequence number next to its id so that a load can refuse
-- a snapshot older than the one recorded. The load's own steps stay in relational_loads (the
-- partition exchange commits DDL half-way; see jobs/internal/relational/oracle.go).
-- Oracle commits DDL implicitly: a failure half-way leaves this migration dirty (see package migrate).

CREATE TABLE publication_states (
    dataset          VARCHAR2(128 CHAR) NOT NULL,
    cob_date         DATE               NOT NULL,
    state            VARCHAR2(32 CHAR)  NOT NULL,
    run_id           VARCHAR2(128 CHAR) NOT NULL,
    input_sha256     VARCHAR2(64 CHAR)  NOT NULL,
    content_checksum VARCHAR2(64 CHAR)  NOT NULL,
    row_count        NUMBER(19)         NOT NULL,
    snapshot_id      NUMBER(19),
    snapshot_seq     NUMBER(19),
    updated_at       TIMESTAMP(6) WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    CONSTRAINT publication_states_pk PRIMARY KEY (dataset, cob_date),
    CONSTRAINT publication_states_state_ck CHECK (state IN ('pending', 'iceberg-committed', 'published'))
);

CREATE TABLE publication_state_log (
    id               NUMBER(19) GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset          VARCHAR2(128 CHAR) NOT NULL,
    cob_date         DATE               NOT NULL,
    state            VARCHAR2(32 CHAR)  NOT NULL,
    run_id           VARCHAR2(128 CHAR) NOT NULL,
    input_sha256     VARCHAR2(64 CHAR)  NOT NULL,
    content_checksum VARCHAR2(64 CHAR)  NOT NULL,
    row_count        NUMBER(19)         NOT NULL,
    snapshot_id      NUMBER(19),
    snapshot_seq     NUMBER(19),
    at               TIMESTAMP(6) WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL
);

CREATE INDEX publication_state_log_ds ON publication_state_log (dataset, cob_date);

ALTER TABLE publications ADD (snapshot_seq NUMBER(19));

ALTER TABLE publication_log ADD (snapshot_seq NUMBER(19));
