-- package coupon: templates, coupons, audit trail, distributions (versions 0300-0399).
-- Times are INTEGER unix microseconds in UTC; amounts are exact JSON text
-- ({"amount":"12.30","currency":"USD"}), never floating point.

CREATE TABLE IF NOT EXISTS {{prefix}}coupon_templates (
    tenant     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    auto       INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS {{prefix}}coupons (
    tenant       TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    template_id  TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    code         TEXT,
    state        TEXT    NOT NULL,
    frozen_from  TEXT    NOT NULL,
    valid_from   INTEGER,
    valid_until  INTEGER,
    order_id     TEXT    NOT NULL,
    locked_until INTEGER,
    discount     TEXT,
    budget_cut   INTEGER NOT NULL,
    issued_at    INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, code)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS {{prefix}}coupons_user ON {{prefix}}coupons (tenant, user_id, state) WHERE user_id <> '';
CREATE INDEX IF NOT EXISTS {{prefix}}coupons_order ON {{prefix}}coupons (tenant, order_id) WHERE order_id <> '';
CREATE INDEX IF NOT EXISTS {{prefix}}coupons_template ON {{prefix}}coupons (tenant, template_id, state);
CREATE INDEX IF NOT EXISTS {{prefix}}coupons_locked ON {{prefix}}coupons (tenant, locked_until) WHERE state = 'LOCKED';
CREATE INDEX IF NOT EXISTS {{prefix}}coupons_valid ON {{prefix}}coupons (tenant, valid_until) WHERE state = 'ACTIVATED';

CREATE TABLE IF NOT EXISTS {{prefix}}coupon_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    coupon_id   TEXT    NOT NULL,
    template_id TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    order_id    TEXT    NOT NULL,
    at          INTEGER NOT NULL
) STRICT;

CREATE INDEX IF NOT EXISTS {{prefix}}coupon_audit_coupon ON {{prefix}}coupon_audit (tenant, coupon_id, id);

CREATE TABLE IF NOT EXISTS {{prefix}}coupon_distributions (
    tenant      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    template_id TEXT    NOT NULL,
    users       TEXT    NOT NULL,
    next_index  INTEGER NOT NULL,
    issued      INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    failures    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT, WITHOUT ROWID;
