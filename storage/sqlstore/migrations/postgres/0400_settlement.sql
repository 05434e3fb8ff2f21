-- package settlement: orders, clearing entries, statements (versions 0400-0499).
-- Orders, entries and statements are JSON bodies (amounts as exact decimal
-- text, never floating point) beside the columns their queries need.

CREATE TABLE IF NOT EXISTS {{prefix}}settlement_orders (
    tenant  TEXT        NOT NULL,
    id      TEXT        NOT NULL,
    state   TEXT        NOT NULL,
    pay_by  TIMESTAMPTZ NOT NULL,
    version BIGINT      NOT NULL,
    body    TEXT        NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE INDEX IF NOT EXISTS {{prefix}}settlement_orders_due ON {{prefix}}settlement_orders (tenant, state, pay_by);

CREATE TABLE IF NOT EXISTS {{prefix}}settlement_entries (
    tenant       TEXT        NOT NULL,
    id           TEXT        NOT NULL,
    party        TEXT        NOT NULL,
    order_id     TEXT        NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    statement_id TEXT,
    body         TEXT        NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE INDEX IF NOT EXISTS {{prefix}}settlement_entries_open ON {{prefix}}settlement_entries (tenant, party, at) WHERE statement_id IS NULL;
CREATE INDEX IF NOT EXISTS {{prefix}}settlement_entries_order ON {{prefix}}settlement_entries (tenant, order_id);
CREATE INDEX IF NOT EXISTS {{prefix}}settlement_entries_statement ON {{prefix}}settlement_entries (tenant, statement_id);

CREATE TABLE IF NOT EXISTS {{prefix}}settlement_statements (
    tenant       TEXT        NOT NULL,
    id           TEXT        NOT NULL,
    party        TEXT        NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    currency     TEXT        NOT NULL,
    version      BIGINT      NOT NULL,
    body         TEXT        NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, party, period_start, currency)
);
