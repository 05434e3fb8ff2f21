-- package coupon: codes stay unique per tenant, but a coupon without a code
-- (every claimed or distributed coupon) no longer enters the code index: a
-- partial unique index replaces the UNIQUE (tenant, code) constraint, which
-- indexed the NULLs too and cost every claim one more index insert.
-- INSERT ... ON CONFLICT DO NOTHING (no target) still skips a taken code,
-- and "code = $1" lookups use the partial index. SQLite keeps its
-- constraint: a table's constraint cannot be dropped there.

CREATE UNIQUE INDEX IF NOT EXISTS {{prefix}}coupons_code
    ON {{prefix}}coupons (tenant, code) WHERE code IS NOT NULL;

ALTER TABLE {{prefix}}coupons DROP CONSTRAINT IF EXISTS {{prefix}}coupons_tenant_code_key;
