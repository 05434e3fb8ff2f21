-- package reward: campaigns, event records, parked reverses, progress, grants (versions 0500-0599).
-- Times are INTEGER unix microseconds in UTC; text compares as bytes (BINARY), as Go does.

CREATE TABLE IF NOT EXISTS {{prefix}}reward_campaigns (
    tenant  TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    status  TEXT    NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT    NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {{prefix}}reward_campaign_types (
    tenant      TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    PRIMARY KEY (tenant, event_type, campaign_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {{prefix}}reward_events (
    tenant     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    saved      INTEGER NOT NULL,
    event_type TEXT    NOT NULL,
    at         INTEGER,
    flows      TEXT    NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {{prefix}}reward_parked (
    tenant     TEXT NOT NULL,
    forward_id TEXT NOT NULL,
    reverse_id TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (tenant, forward_id, reverse_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {{prefix}}reward_progress (
    tenant      TEXT    NOT NULL,
    campaign    TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    participant TEXT    NOT NULL,
    value       INTEGER NOT NULL,
    reached_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, campaign, period, participant)
) STRICT, WITHOUT ROWID;

-- the leaderboard's order: value desc, reached_at asc, participant asc
CREATE INDEX IF NOT EXISTS {{prefix}}reward_progress_rank
    ON {{prefix}}reward_progress (tenant, campaign, period, value DESC, reached_at, participant);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_grants (
    tenant      TEXT    NOT NULL,
    campaign    TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    participant TEXT    NOT NULL,
    slot        TEXT    NOT NULL,
    award       TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    ref         TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (tenant, campaign, period, participant, slot)
) STRICT, WITHOUT ROWID;
