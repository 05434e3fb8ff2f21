-- package reward: campaigns, event records, parked reverses, progress, grants (versions 0500-0599).
-- Participant and key columns use the "C" collation so that ORDER BY sorts bytes, as Go does.

CREATE TABLE IF NOT EXISTS {{prefix}}reward_campaigns (
    tenant  TEXT   NOT NULL,
    id      TEXT   NOT NULL,
    status  TEXT   NOT NULL,
    version BIGINT NOT NULL,
    body    TEXT   NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_campaign_types (
    tenant      TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    campaign_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, event_type, campaign_id)
);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_events (
    tenant     TEXT        NOT NULL,
    id         TEXT        NOT NULL,
    saved      SMALLINT    NOT NULL,
    event_type TEXT        NOT NULL,
    at         TIMESTAMPTZ,
    flows      TEXT        NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_parked (
    tenant     TEXT NOT NULL,
    forward_id TEXT NOT NULL,
    reverse_id TEXT COLLATE "C" NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (tenant, forward_id, reverse_id)
);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_progress (
    tenant      TEXT            NOT NULL,
    campaign    TEXT            NOT NULL,
    period      TEXT            NOT NULL,
    participant TEXT COLLATE "C" NOT NULL,
    value       BIGINT          NOT NULL,
    reached_at  TIMESTAMPTZ     NOT NULL,
    PRIMARY KEY (tenant, campaign, period, participant)
);

-- the leaderboard's order: value desc, reached_at asc, participant asc
CREATE INDEX IF NOT EXISTS {{prefix}}reward_progress_rank
    ON {{prefix}}reward_progress (tenant, campaign, period, value DESC, reached_at, participant);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_grants (
    tenant      TEXT            NOT NULL,
    campaign    TEXT            NOT NULL,
    period      TEXT COLLATE "C" NOT NULL,
    participant TEXT COLLATE "C" NOT NULL,
    slot        TEXT COLLATE "C" NOT NULL,
    award       TEXT            NOT NULL,
    status      TEXT            NOT NULL,
    seq         BIGINT          NOT NULL,
    ref         TEXT            NOT NULL,
    event_id    TEXT            NOT NULL,
    at          TIMESTAMPTZ     NOT NULL,
    PRIMARY KEY (tenant, campaign, period, participant, slot)
);
