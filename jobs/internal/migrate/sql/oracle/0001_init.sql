-- 0001: dataset tables, their staging tables (global temporary, filled by array binds) and the
-- publication log. Oracle commits DDL implicitly: each statement is applied on its own.

CREATE TABLE var_es (
    cob_date DATE NOT NULL,
    legal_entity VARCHAR2(256 CHAR) NOT NULL,
    desk VARCHAR2(256 CHAR) NOT NULL,
    portfolio VARCHAR2(256 CHAR) NOT NULL,
    measure VARCHAR2(256 CHAR) NOT NULL,
    confidence_level BINARY_DOUBLE NOT NULL,
    horizon_days NUMBER(10) NOT NULL,
    currency VARCHAR2(256 CHAR) NOT NULL,
    value BINARY_DOUBLE NOT NULL,
    scenario_count NUMBER(10) NOT NULL,
    calc_run_id VARCHAR2(256 CHAR) NOT NULL,
    computed_at TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    CONSTRAINT var_es_pk PRIMARY KEY (portfolio, measure, horizon_days, confidence_level, desk, legal_entity, cob_date)
) PARTITION BY LIST (cob_date) AUTOMATIC (PARTITION p_initial VALUES (DATE '2000-01-01'));

CREATE GLOBAL TEMPORARY TABLE var_es_stage (
    cob_date DATE NOT NULL,
    legal_entity VARCHAR2(256 CHAR) NOT NULL,
    desk VARCHAR2(256 CHAR) NOT NULL,
    portfolio VARCHAR2(256 CHAR) NOT NULL,
    measure VARCHAR2(256 CHAR) NOT NULL,
    confidence_level BINARY_DOUBLE NOT NULL,
    horizon_days NUMBER(10) NOT NULL,
    currency VARCHAR2(256 CHAR) NOT NULL,
    value BINARY_DOUBLE NOT NULL,
    scenario_count NUMBER(10) NOT NULL,
    calc_run_id VARCHAR2(256 CHAR) NOT NULL,
    computed_at TIMESTAMP(6) WITH TIME ZONE NOT NULL
) ON COMMIT DELETE ROWS;

CREATE TABLE frtb_sensitivities (
    cob_date DATE NOT NULL,
    legal_entity VARCHAR2(256 CHAR) NOT NULL,
    desk VARCHAR2(256 CHAR) NOT NULL,
    risk_class VARCHAR2(256 CHAR) NOT NULL,
    sensitivity_type VARCHAR2(256 CHAR) NOT NULL,
    bucket VARCHAR2(256 CHAR) NOT NULL,
    risk_factor VARCHAR2(256 CHAR) NOT NULL,
    tenor VARCHAR2(256 CHAR) NOT NULL,
    currency VARCHAR2(256 CHAR) NOT NULL,
    sensitivity BINARY_DOUBLE NOT NULL,
    risk_weight BINARY_DOUBLE,
    trade_count NUMBER(10) NOT NULL,
    computed_at TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    CONSTRAINT frtb_sensitivities_pk PRIMARY KEY (risk_factor, sensitivity_type, risk_class, bucket, tenor, desk, legal_entity, cob_date)
) PARTITION BY LIST (cob_date) AUTOMATIC (PARTITION p_initial VALUES (DATE '2000-01-01'));

CREATE GLOBAL TEMPORARY TABLE frtb_sensitivities_stage (
    cob_date DATE NOT NULL,
    legal_entity VARCHAR2(256 CHAR) NOT NULL,
    desk VARCHAR2(256 CHAR) NOT NULL,
    risk_class VARCHAR2(256 CHAR) NOT NULL,
    sensitivity_type VARCHAR2(256 CHAR) NOT NULL,
    bucket VARCHAR2(256 CHAR) NOT NULL,
    risk_factor VARCHAR2(256 CHAR) NOT NULL,
    tenor VARCHAR2(256 CHAR) NOT NULL,
    currency VARCHAR2(256 CHAR) NOT NULL,
    sensitivity BINARY_DOUBLE NOT NULL,
    risk_weight BINARY_DOUBLE,
    trade_count NUMBER(10) NOT NULL,
    computed_at TIMESTAMP(6) WITH TIME ZONE NOT NULL
) ON COMMIT DELETE ROWS;

CREATE TABLE drc (
    cob_date DATE NOT NULL,
    legal_entity VARCHAR2(256 CHAR) NOT NULL,
    desk VARCHAR2(256 CHAR) NOT NULL,
    issuer_id VARCHAR2(256 CHAR) NOT NULL,
    issuer_name VARCHAR2(256 CHAR),
    seniority VARCHAR2(256 CHAR) NOT NULL,
    credit_quality VARCHAR2(256 CHAR) NOT NULL,
    jtd_long BINARY_DOUBLE NOT NULL,
    jtd_short BINARY_DOUBLE NOT NULL,
    lgd BINARY_DOUBLE NOT NULL,
    risk_weight BINARY_DOUBLE NOT NULL,
    maturity_years BINARY_DOUBLE NOT NULL,
    drc_charge BINARY_DOUBLE NOT NULL,
    currency VARCHAR2(256 CHAR) NOT NULL,
    computed_at TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    CONSTRAINT drc_pk PRIMARY KEY (issuer_id, seniority, desk, legal_entity, cob_date)
) PARTITION BY LIST (cob_date) AUTOMATIC (PARTITION p_initial VALUES (DATE '2000-01-01'));

CREATE GLOBAL TEMPORARY TABLE drc_stage (
    cob_date DATE NOT NULL,
    legal_entity VARCHAR2(256 CHAR) NOT NULL,
    desk VARCHAR2(256 CHAR) NOT NULL,
    issuer_id VARCHAR2(256 CHAR) NOT NULL,
    issuer_name VARCHAR2(256 CHAR),
    seniority VARCHAR2(256 CHAR) NOT NULL,
    credit_quality VARCHAR2(256 CHAR) NOT NULL,
    jtd_long BINARY_DOUBLE NOT NULL,
    jtd_short BINARY_DOUBLE NOT NULL,
    lgd BINARY_DOUBLE NOT NULL,
    risk_weight BINARY_DOUBLE NOT NULL,
    maturity_years BINARY_DOUBLE NOT NULL,
    drc_charge BINARY_DOUBLE NOT NULL,
    currency VARCHAR2(256 CHAR) NOT NULL,
    computed_at TIMESTAMP(6) WITH TIME ZONE NOT NULL
) ON COMMIT DELETE ROWS;

CREATE TABLE publications (
    dataset          VARCHAR2(128 CHAR) NOT NULL,
    cob_date         DATE               NOT NULL,
    run_id           VARCHAR2(128 CHAR) NOT NULL,
    snapshot_id      NUMBER(19),
    input_sha256     VARCHAR2(64 CHAR)  NOT NULL,
    content_checksum VARCHAR2(64 CHAR)  NOT NULL,
    row_count        NUMBER(19)         NOT NULL,
    published_at     TIMESTAMP(6) WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    CONSTRAINT publications_pk PRIMARY KEY (dataset, cob_date)
);

CREATE TABLE publication_log (
    id               NUMBER(19) GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset          VARCHAR2(128 CHAR) NOT NULL,
    cob_date         DATE               NOT NULL,
    run_id           VARCHAR2(128 CHAR) NOT NULL,
    snapshot_id      NUMBER(19),
    input_sha256     VARCHAR2(64 CHAR)  NOT NULL,
    content_checksum VARCHAR2(64 CHAR)  NOT NULL,
    row_count        NUMBER(19)         NOT NULL,
    published_at     TIMESTAMP(6) WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL
);
