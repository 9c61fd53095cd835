-- 0001: dataset tables (one LIST partition per cob_date, swapped in by the loader) and the
-- publication log.
CREATE SCHEMA IF NOT EXISTS risk;

CREATE TABLE risk.var_es (
    cob_date date NOT NULL,
    legal_entity text NOT NULL,
    desk text NOT NULL,
    portfolio text NOT NULL,
    measure text NOT NULL,
    confidence_level double precision NOT NULL,
    horizon_days integer NOT NULL,
    currency text NOT NULL,
    value double precision NOT NULL,
    scenario_count integer NOT NULL,
    calc_run_id text NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (portfolio, measure, horizon_days, confidence_level, desk, legal_entity, cob_date)
) PARTITION BY LIST (cob_date);

CREATE TABLE risk.frtb_sensitivities (
    cob_date date NOT NULL,
    legal_entity text NOT NULL,
    desk text NOT NULL,
    risk_class text NOT NULL,
    sensitivity_type text NOT NULL,
    bucket text NOT NULL,
    risk_factor text NOT NULL,
    tenor text NOT NULL,
    currency text NOT NULL,
    sensitivity double precision NOT NULL,
    risk_weight double precision,
    trade_count integer NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (risk_factor, sensitivity_type, risk_class, bucket, tenor, desk, legal_entity, cob_date)
) PARTITION BY LIST (cob_date);

CREATE TABLE risk.drc (
    cob_date date NOT NULL,
    legal_entity text NOT NULL,
    desk text NOT NULL,
    issuer_id text NOT NULL,
    issuer_name text,
    seniority text NOT NULL,
    credit_quality text NOT NULL,
    jtd_long double precision NOT NULL,
    jtd_short double precision NOT NULL,
    lgd double precision NOT NULL,
    risk_weight double precision NOT NULL,
    maturity_years double precision NOT NULL,
    drc_charge double precision NOT NULL,
    currency text NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (issuer_id, seniority, desk, legal_entity, cob_date)
) PARTITION BY LIST (cob_date);

CREATE TABLE risk.publications (
    dataset          text        NOT NULL,
    cob_date         date        NOT NULL,
    run_id           text        NOT NULL,
    snapshot_id      bigint,
    input_sha256     text        NOT NULL,
    content_checksum text        NOT NULL,
    row_count        bigint      NOT NULL,
    published_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, cob_date)
);

CREATE TABLE risk.publication_log (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset          text        NOT NULL,
    cob_date         date        NOT NULL,
    run_id           text        NOT NULL,
    snapshot_id      bigint,
    input_sha256     text        NOT NULL,
    content_checksum text        NOT NULL,
    row_count        bigint      NOT NULL,
    published_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX publication_log_dataset_date ON risk.publication_log (dataset, cob_date);
