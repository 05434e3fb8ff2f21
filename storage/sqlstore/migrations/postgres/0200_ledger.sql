-- rewardkit ledger (versions 0200-0299). Amounts are BIGINT minor units.

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_accounts (
    tenant         TEXT        NOT NULL,
    id             TEXT        NOT NULL,
    overdraft_kind SMALLINT    NOT NULL,
    limit_asset    TEXT        NOT NULL DEFAULT '',
    limit_scale    SMALLINT    NOT NULL DEFAULT 0,
    limit_minor    BIGINT      NOT NULL DEFAULT 0,
    metadata       TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- floor_minor is the lowest posted - held allowed; NULL means no floor.
-- lots is what is left in the balance's open lots.
CREATE TABLE IF NOT EXISTS {{prefix}}ledger_balances (
    tenant      TEXT   NOT NULL,
    account     TEXT   NOT NULL,
    asset       TEXT   NOT NULL,
    posted      BIGINT NOT NULL,
    held        BIGINT NOT NULL,
    floor_minor BIGINT,
    lots        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, account, asset)
);

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_transactions (
    tenant      TEXT        NOT NULL,
    id          TEXT        NOT NULL,
    tx_key      TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    kind        SMALLINT    NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    lines       TEXT        NOT NULL,
    metadata    TEXT,
    reverses    TEXT        NOT NULL DEFAULT '',
    hold_id     TEXT        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, tx_key)
);

-- How much of each line later reversals took back.
CREATE TABLE IF NOT EXISTS {{prefix}}ledger_reversed (
    tenant   TEXT    NOT NULL,
    tx_id    TEXT    NOT NULL,
    line_no  INTEGER NOT NULL,
    reversed BIGINT  NOT NULL,
    PRIMARY KEY (tenant, tx_id, line_no)
);

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_entries (
    seq     BIGSERIAL   PRIMARY KEY,
    tenant  TEXT        NOT NULL,
    account TEXT        NOT NULL,
    asset   TEXT        NOT NULL,
    tx_id   TEXT        NOT NULL,
    kind    SMALLINT    NOT NULL,
    line_no INTEGER     NOT NULL,
    other   TEXT        NOT NULL,
    amount  BIGINT      NOT NULL,
    balance BIGINT      NOT NULL,
    at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS {{prefix}}ledger_entries_account ON {{prefix}}ledger_entries (tenant, account, seq);
CREATE INDEX IF NOT EXISTS {{prefix}}ledger_entries_at ON {{prefix}}ledger_entries (tenant, account, asset, at, seq);

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_holds (
    tenant      TEXT        NOT NULL,
    id          TEXT        NOT NULL,
    hold_key    TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    account     TEXT        NOT NULL,
    destination TEXT        NOT NULL,
    asset       TEXT        NOT NULL,
    amount      BIGINT      NOT NULL,
    captured    BIGINT      NOT NULL,
    status      SMALLINT    NOT NULL,
    expires_at  TIMESTAMPTZ,
    metadata    TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    closed_at   TIMESTAMPTZ,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, hold_key)
);
CREATE INDEX IF NOT EXISTS {{prefix}}ledger_holds_expiry ON {{prefix}}ledger_holds (tenant, expires_at) WHERE status = 1;

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_lots (
    id         BIGSERIAL   PRIMARY KEY,
    tenant     TEXT        NOT NULL,
    account    TEXT        NOT NULL,
    asset      TEXT        NOT NULL,
    amount     BIGINT      NOT NULL,
    remaining  BIGINT      NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    tx_id      TEXT        NOT NULL
);
CREATE INDEX IF NOT EXISTS {{prefix}}ledger_lots_open ON {{prefix}}ledger_lots (tenant, account, asset, expires_at, id) WHERE remaining > 0;
CREATE INDEX IF NOT EXISTS {{prefix}}ledger_lots_expiry ON {{prefix}}ledger_lots (tenant, expires_at, id) WHERE remaining > 0;
