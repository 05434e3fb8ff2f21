-- rewardkit core tables (versions 0001-0099 are reserved for the core).
-- The placeholder prefix before each name is replaced with the table prefix.

CREATE TABLE IF NOT EXISTS {{prefix}}idempotency (
    tenant      TEXT        NOT NULL,
    operation   TEXT        NOT NULL,
    idem_key    TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    result      BYTEA,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, operation, idem_key)
);

CREATE TABLE IF NOT EXISTS {{prefix}}outbox (
    id             BIGSERIAL   PRIMARY KEY,
    event_id       TEXT        NOT NULL,
    tenant         TEXT        NOT NULL,
    topic          TEXT        NOT NULL,
    aggregate_type TEXT        NOT NULL,
    aggregate_id   TEXT        NOT NULL,
    partition_no   SMALLINT    NOT NULL,
    payload        TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    published_at   TIMESTAMPTZ,
    UNIQUE (tenant, event_id)
);

CREATE INDEX IF NOT EXISTS {{prefix}}outbox_pending
    ON {{prefix}}outbox (partition_no, id) WHERE published_at IS NULL;

CREATE TABLE IF NOT EXISTS {{prefix}}leases (
    name       TEXT        PRIMARY KEY,
    owner      TEXT        NOT NULL,
    token      BIGINT      NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS {{prefix}}counters (
    tenant TEXT   NOT NULL,
    name   TEXT   NOT NULL,
    value  BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);
