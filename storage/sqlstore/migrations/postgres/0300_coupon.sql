-- package coupon: templates, coupons, audit trail, distributions (versions 0300-0399).
-- Amounts are exact JSON text ({"amount":"12.30","currency":"USD"}), never floating point.

CREATE TABLE IF NOT EXISTS {{prefix}}coupon_templates (
    tenant     TEXT        NOT NULL,
    id         TEXT        NOT NULL,
    auto       SMALLINT    NOT NULL,
    body       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE INDEX IF NOT EXISTS {{prefix}}coupon_templates_auto
    ON {{prefix}}coupon_templates (tenant, id) WHERE auto = 1;

CREATE TABLE IF NOT EXISTS {{prefix}}coupons (
    tenant       TEXT        NOT NULL,
    id           TEXT        NOT NULL,
    template_id  TEXT        NOT NULL,
    user_id      TEXT        NOT NULL,
    code         TEXT,
    state        TEXT        NOT NULL,
    frozen_from  TEXT        NOT NULL,
    valid_from   TIMESTAMPTZ,
    valid_until  TIMESTAMPTZ,
    order_id     TEXT        NOT NULL,
    locked_until TIMESTAMPTZ,
    discount     TEXT,
    budget_cut   SMALLINT    NOT NULL,
    issued_at    TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT      NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, code)
);

CREATE INDEX IF NOT EXISTS {{prefix}}coupons_user ON {{prefix}}coupons (tenant, user_id, state) WHERE user_id <> '';
CREATE INDEX IF NOT EXISTS {{prefix}}coupons_order ON {{prefix}}coupons (tenant, order_id) WHERE order_id <> '';
CREATE INDEX IF NOT EXISTS {{prefix}}coupons_template ON {{prefix}}coupons (tenant, template_id, state);
CREATE INDEX IF NOT EXISTS {{prefix}}coupons_locked ON {{prefix}}coupons (tenant, locked_until) WHERE state = 'LOCKED';
CREATE INDEX IF NOT EXISTS {{prefix}}coupons_valid ON {{prefix}}coupons (tenant, valid_until) WHERE state = 'ACTIVATED';

CREATE TABLE IF NOT EXISTS {{prefix}}coupon_audit (
    id          BIGSERIAL   PRIMARY KEY,
    tenant      TEXT        NOT NULL,
    event_id    TEXT        NOT NULL,
    coupon_id   TEXT        NOT NULL,
    template_id TEXT        NOT NULL,
    user_id     TEXT        NOT NULL,
    event       TEXT        NOT NULL,
    from_state  TEXT        NOT NULL,
    to_state    TEXT        NOT NULL,
    actor       TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    order_id    TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS {{prefix}}coupon_audit_coupon ON {{prefix}}coupon_audit (tenant, coupon_id, id);

CREATE TABLE IF NOT EXISTS {{prefix}}coupon_distributions (
    tenant      TEXT        NOT NULL,
    id          TEXT        NOT NULL,
    template_id TEXT        NOT NULL,
    users       TEXT        NOT NULL,
    next_index  BIGINT      NOT NULL,
    issued      BIGINT      NOT NULL,
    skipped     BIGINT      NOT NULL,
    status      TEXT        NOT NULL,
    failures    TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT      NOT NULL,
    PRIMARY KEY (tenant, id)
);
