-- A coupon's audit trail is read by (tenant, coupon_id) in id order, and
-- nothing reads an entry by id alone: make that the primary key and drop
-- the index it duplicates, one index entry less per transition.
ALTER TABLE {{prefix}}coupon_audit DROP CONSTRAINT {{prefix}}coupon_audit_pkey;
ALTER TABLE {{prefix}}coupon_audit ADD CONSTRAINT {{prefix}}coupon_audit_pkey PRIMARY KEY (tenant, coupon_id, id);
DROP INDEX IF EXISTS {{prefix}}coupon_audit_coupon;
