-- package reward, loyalty: members, accruals, tier changes.
-- Member IDs use the "C" collation so that ORDER BY sorts bytes, as Go does.

CREATE TABLE IF NOT EXISTS {{prefix}}reward_members (
    tenant        TEXT             NOT NULL,
    id            TEXT COLLATE "C" NOT NULL,
    email         TEXT             NOT NULL,
    name          TEXT             NOT NULL,
    tier          TEXT             NOT NULL,
    lifetime      BIGINT           NOT NULL,
    registered_at TIMESTAMPTZ      NOT NULL,
    last_activity TIMESTAMPTZ      NOT NULL,
    tier_since    TIMESTAMPTZ      NOT NULL,
    tier_version  BIGINT           NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_accruals (
    tenant TEXT        NOT NULL,
    member TEXT        NOT NULL,
    key    TEXT        NOT NULL,
    at     TIMESTAMPTZ NOT NULL,
    spend  BIGINT      NOT NULL,
    points BIGINT      NOT NULL,
    PRIMARY KEY (tenant, member, key)
);

-- qualifying spend over a rolling window
CREATE INDEX IF NOT EXISTS {{prefix}}reward_accruals_at
    ON {{prefix}}reward_accruals (tenant, member, at);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_tier_changes (
    tenant    TEXT        NOT NULL,
    member    TEXT        NOT NULL,
    seq       BIGINT      NOT NULL,
    from_tier TEXT        NOT NULL,
    to_tier   TEXT        NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    reason    TEXT        NOT NULL,
    PRIMARY KEY (tenant, member, seq)
);
