-- 0001: dataset tables and the publication log (embedded default).

CREATE TABLE var_es (
    cob_date TEXT NOT NULL,
    legal_entity TEXT NOT NULL,
    desk TEXT NOT NULL,
    portfolio TEXT NOT NULL,
    measure TEXT NOT NULL,
    confidence_level REAL NOT NULL,
    horizon_days INTEGER NOT NULL,
    currency TEXT NOT NULL,
    value REAL NOT NULL,
    scenario_count INTEGER NOT NULL,
    calc_run_id TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    PRIMARY KEY (portfolio, measure, horizon_days, confidence_level, desk, legal_entity, cob_date)
) WITHOUT ROWID;

CREATE TABLE frtb_sensitivities (
    cob_date TEXT NOT NULL,
    legal_entity TEXT NOT NULL,
    desk TEXT NOT NULL,
    risk_class TEXT NOT NULL,
    sensitivity_type TEXT NOT NULL,
    bucket TEXT NOT NULL,
    risk_factor TEXT NOT NULL,
    tenor TEXT NOT NULL,
    currency TEXT NOT NULL,
    sensitivity REAL NOT NULL,
    risk_weight REAL,
    trade_count INTEGER NOT NULL,
    computed_at TEXT NOT NULL,
    PRIMARY KEY (risk_factor, sensitivity_type, risk_class, bucket, tenor, desk, legal_entity, cob_date)
) WITHOUT ROWID;

CREATE TABLE drc (
    cob_date TEXT NOT NULL,
    legal_entity TEXT NOT NULL,
    desk TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    issuer_name TEXT,
    seniority TEXT NOT NULL,
    credit_quality TEXT NOT NULL,
    jtd_long REAL NOT NULL,
    jtd_short REAL NOT NULL,
    lgd REAL NOT NULL,
    risk_weight REAL NOT NULL,
    maturity_years REAL NOT NULL,
    drc_charge REAL NOT NULL,
    currency TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    PRIMARY KEY (issuer_id, seniority, desk, legal_entity, cob_date)
) WITHOUT ROWID;

CREATE TABLE publications (
    dataset          TEXT    NOT NULL,
    cob_date         TEXT    NOT NULL,
    run_id           TEXT    NOT NULL,
    snapshot_id      INTEGER,
    input_sha256     TEXT    NOT NULL,
    content_checksum TEXT    NOT NULL,
    row_count        INTEGER NOT NULL,
    published_at     TEXT    NOT NULL,
    PRIMARY KEY (dataset, cob_date)
);

CREATE TABLE publication_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset          TEXT    NOT NULL,
    cob_date         TEXT    NOT NULL,
    run_id           TEXT    NOT NULL,
    snapshot_id      INTEGER,
    input_sha256     TEXT    NOT NULL,
    content_checksum TEXT    NOT NULL,
    row_count        INTEGER NOT NULL,
    published_at     TEXT    NOT NULL
);
