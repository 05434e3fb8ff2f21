-- rules/risk: velocity buckets and deny lists (versions 0100-0199).
-- Times are INTEGER unix microseconds in UTC.

CREATE TABLE IF NOT EXISTS {{prefix}}risk_velocity (
    tenant       TEXT    NOT NULL,
    bucket_key   TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (tenant, bucket_key, window_start)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS {{prefix}}risk_velocity_end ON {{prefix}}risk_velocity (window_end);

CREATE TABLE IF NOT EXISTS {{prefix}}risk_deny (
    tenant     TEXT    NOT NULL,
    list_name  TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (tenant, list_name, value)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS {{prefix}}risk_deny_expires ON {{prefix}}risk_deny (expires_at) WHERE expires_at IS NOT NULL;
