-- rules/risk: velocity buckets and deny lists (versions 0100-0199).

CREATE TABLE IF NOT EXISTS {{prefix}}risk_velocity (
    tenant       TEXT        NOT NULL,
    bucket_key   TEXT        NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end   TIMESTAMPTZ NOT NULL,
    hits         BIGINT      NOT NULL,
    PRIMARY KEY (tenant, bucket_key, window_start)
);

CREATE INDEX IF NOT EXISTS {{prefix}}risk_velocity_end ON {{prefix}}risk_velocity (window_end);

CREATE TABLE IF NOT EXISTS {{prefix}}risk_deny (
    tenant     TEXT        NOT NULL,
    list_name  TEXT        NOT NULL,
    value      TEXT        NOT NULL,
    reason     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    PRIMARY KEY (tenant, list_name, value)
);

CREATE INDEX IF NOT EXISTS {{prefix}}risk_deny_expires ON {{prefix}}risk_deny (expires_at) WHERE expires_at IS NOT NULL;
