-- 0002: loads by partition exchange (jobs/internal/relational/oracle.go).
-- The exchange table is created per load (CREATE TABLE ... FOR EXCHANGE WITH TABLE), so the
-- global temporary staging tables go. The primary keys become LOCAL indexes: a global index
-- would be left UNUSABLE by EXCHANGE PARTITION (or maintained row by row with UPDATE GLOBAL
-- INDEXES), a local one is exchanged with the stage's index (INCLUDING INDEXES). The partition
-- key cob_date is part of every key, as a local unique index requires.
-- relational_loads records the step each load reached, because DDL commits: see OracleStep*.
-- Oracle commits DDL implicitly: a failure half-way leaves this migration dirty (see package migrate).

DROP TABLE var_es_stage;
DROP TABLE frtb_sensitivities_stage;
DROP TABLE drc_stage;

ALTER TABLE var_es DROP CONSTRAINT var_es_pk DROP INDEX;
ALTER TABLE var_es ADD CONSTRAINT var_es_pk PRIMARY KEY (portfolio, measure, horizon_days, confidence_level, desk, legal_entity, cob_date) USING INDEX LOCAL;

ALTER TABLE frtb_sensitivities DROP CONSTRAINT frtb_sensitivities_pk DROP INDEX;
ALTER TABLE frtb_sensitivities ADD CONSTRAINT frtb_sensitivities_pk PRIMARY KEY (risk_factor, sensitivity_type, risk_class, bucket, tenor, desk, legal_entity, cob_date) USING INDEX LOCAL;

ALTER TABLE drc DROP CONSTRAINT drc_pk DROP INDEX;
ALTER TABLE drc ADD CONSTRAINT drc_pk PRIMARY KEY (issuer_id, seniority, desk, legal_entity, cob_date) USING INDEX LOCAL;

CREATE TABLE relational_loads (
    dataset       VARCHAR2(128 CHAR) NOT NULL,
    cob_date      DATE               NOT NULL,
    run_id        VARCHAR2(128 CHAR) NOT NULL,
    step          VARCHAR2(32 CHAR)  NOT NULL,
    stage_table   VARCHAR2(128 CHAR) NOT NULL,
    rows_loaded   NUMBER(19)         DEFAULT 0 NOT NULL,
    rows_replaced NUMBER(19)         DEFAULT 0 NOT NULL,
    last_error    VARCHAR2(4000 CHAR),
    updated_at    TIMESTAMP(6) WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    CONSTRAINT relational_loads_pk PRIMARY KEY (dataset, cob_date),
    CONSTRAINT relational_loads_step_ck CHECK (step IN ('staging', 'staged', 'exchanging', 'published'))
);
