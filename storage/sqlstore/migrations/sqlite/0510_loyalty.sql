-- package reward, loyalty: members, accruals, tier changes.
-- Times are INTEGER unix microseconds in UTC; amounts INTEGER minor units.

CREATE TABLE IF NOT EXISTS {{prefix}}reward_members (
    tenant        TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    tier          TEXT    NOT NULL,
    lifetime      INTEGER NOT NULL,
    registered_at INTEGER NOT NULL,
    last_activity INTEGER NOT NULL,
    tier_since    INTEGER NOT NULL,
    tier_version  INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {{prefix}}reward_accruals (
    tenant TEXT    NOT NULL,
    member TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    spend  INTEGER NOT NULL,
    points INTEGER NOT NULL,
    PRIMARY KEY (tenant, member, key)
) STRICT, WITHOUT ROWID;

-- qualifying spend over a rolling window
CREATE INDEX IF NOT EXISTS {{prefix}}reward_accruals_at
    ON {{prefix}}reward_accruals (tenant, member, at);

CREATE TABLE IF NOT EXISTS {{prefix}}reward_tier_changes (
    tenant    TEXT    NOT NULL,
    member    TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    from_tier TEXT    NOT NULL,
    to_tier   TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    reason    TEXT    NOT NULL,
    PRIMARY KEY (tenant, member, seq)
) STRICT, WITHOUT ROWID;
