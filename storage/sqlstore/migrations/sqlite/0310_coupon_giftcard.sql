-- package coupon: gift-card authorizations, one per order. The body is the
-- JSON of coupon.GiftCardAuthorization (amounts as exact text); version
-- makes every update one conditional write. Times are INTEGER unix
-- microseconds in UTC.

CREATE TABLE IF NOT EXISTS {{prefix}}coupon_giftcard_auths (
    tenant     TEXT    NOT NULL,
    order_id   TEXT    NOT NULL,
    coupon_id  TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, order_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS {{prefix}}coupon_giftcard_auths_coupon ON {{prefix}}coupon_giftcard_auths (tenant, coupon_id);
