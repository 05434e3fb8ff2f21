-- rewardkit core tables (versions 0001-0099 are reserved for the core).
-- The placeholder prefix before each name is replaced with the table prefix.
-- Times are INTEGER unix microseconds in UTC; amounts are INTEGER minor units
-- or exact TEXT, never floating point. Tables are STRICT, so a value of the
-- wrong type is refused instead of converted.

CREATE TABLE IF NOT EXISTS {{prefix}}idempotency (
    tenant      TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    idem_key    TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    result      BLOB,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, operation, idem_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {{prefix}}outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT    NOT NULL,
    tenant         TEXT    NOT NULL,
    topic          TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    partition_no   INTEGER NOT NULL,
    payload        TEXT,
    created_at     INTEGER NOT NULL,
    published_at   INTEGER,
    UNIQUE (tenant, event_id)
) STRICT;

CREATE INDEX IF NOT EXISTS {{prefix}}outbox_pending
    ON {{prefix}}outbox (partition_no, id) WHERE published_at IS NULL;

CREATE TABLE IF NOT EXISTS {{prefix}}leases (
    name       TEXT    PRIMARY KEY,
    owner      TEXT    NOT NULL,
    token      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {{prefix}}counters (
    tenant TEXT    NOT NULL,
    name   TEXT    NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) STRICT, WITHOUT ROWID;
