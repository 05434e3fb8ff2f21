-- rewardkit ledger (versions 0200-0299). Amounts are INTEGER minor units,
-- times INTEGER unix microseconds in UTC.

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_accounts (
    tenant         TEXT        NOT NULL,
    id             TEXT        NOT NULL,
    overdraft_kind INTEGER    NOT NULL,
    limit_asset    TEXT        NOT NULL DEFAULT '',
    limit_scale    INTEGER    NOT NULL DEFAULT 0,
    limit_minor    INTEGER      NOT NULL DEFAULT 0,
    metadata       TEXT,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;

-- floor_minor is the lowest posted - held allowed; NULL means no floor.
-- lots is what is left in the balance's open lots.
CREATE TABLE IF NOT EXISTS {{prefix}}ledger_balances (
    tenant      TEXT   NOT NULL,
    account     TEXT   NOT NULL,
    asset       TEXT   NOT NULL,
    posted      INTEGER NOT NULL,
    held        INTEGER NOT NULL,
    floor_minor INTEGER,
    lots        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, account, asset)
) STRICT;

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_transactions (
    tenant      TEXT        NOT NULL,
    id          TEXT        NOT NULL,
    tx_key      TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    kind        INTEGER    NOT NULL,
    at          INTEGER NOT NULL,
    lines       TEXT        NOT NULL,
    metadata    TEXT,
    reverses    TEXT        NOT NULL DEFAULT '',
    hold_id     TEXT        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, tx_key)
) STRICT;

-- How much of each line later reversals took back.
CREATE TABLE IF NOT EXISTS {{prefix}}ledger_reversed (
    tenant   TEXT    NOT NULL,
    tx_id    TEXT    NOT NULL,
    line_no  INTEGER NOT NULL,
    reversed INTEGER  NOT NULL,
    PRIMARY KEY (tenant, tx_id, line_no)
) STRICT;

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_entries (
    seq     INTEGER     PRIMARY KEY AUTOINCREMENT,
    tenant  TEXT        NOT NULL,
    account TEXT        NOT NULL,
    asset   TEXT        NOT NULL,
    tx_id   TEXT        NOT NULL,
    kind    INTEGER    NOT NULL,
    line_no INTEGER     NOT NULL,
    other   TEXT        NOT NULL,
    amount  INTEGER      NOT NULL,
    balance INTEGER      NOT NULL,
    at      INTEGER NOT NULL
) STRICT;
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
    amount      INTEGER      NOT NULL,
    captured    INTEGER      NOT NULL,
    status      INTEGER    NOT NULL,
    expires_at  INTEGER,
    metadata    TEXT,
    created_at  INTEGER NOT NULL,
    closed_at   INTEGER,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, hold_key)
) STRICT;
CREATE INDEX IF NOT EXISTS {{prefix}}ledger_holds_expiry ON {{prefix}}ledger_holds (tenant, expires_at) WHERE status = 1;

CREATE TABLE IF NOT EXISTS {{prefix}}ledger_lots (
    id         INTEGER     PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT        NOT NULL,
    account    TEXT        NOT NULL,
    asset      TEXT        NOT NULL,
    amount     INTEGER      NOT NULL,
    remaining  INTEGER      NOT NULL,
    expires_at INTEGER NOT NULL,
    tx_id      TEXT        NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS {{prefix}}ledger_lots_open ON {{prefix}}ledger_lots (tenant, account, asset, expires_at, id) WHERE remaining > 0;
CREATE INDEX IF NOT EXISTS {{prefix}}ledger_lots_expiry ON {{prefix}}ledger_lots (tenant, expires_at, id) WHERE remaining > 0;
