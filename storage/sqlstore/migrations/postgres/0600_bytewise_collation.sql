-- Every text column of rewardkit's tables compares byte by byte
-- (COLLATE "C"), whatever the database's default collation:
--   - the order of keys in SQL (the lock order of balance rows, cursor
--     pagination by participant or ID) is then the order Go's strings sort
--     in, the order the memory and SQLite adapters use, on every host;
--   - indexes do not depend on the C library's locale data, which changes
--     between releases and silently corrupts text indexes built under the
--     old order;
--   - key comparisons in B-trees are memcmp instead of strcoll, which is
--     a large part of each insert's CPU time on a non-C database.
-- Changing a text column's collation rewrites no table, only the indexes
-- that use it.
ALTER TABLE {{prefix}}counters
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN name TYPE text COLLATE "C";
ALTER TABLE {{prefix}}coupon_audit
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C",
    ALTER COLUMN coupon_id TYPE text COLLATE "C",
    ALTER COLUMN template_id TYPE text COLLATE "C",
    ALTER COLUMN user_id TYPE text COLLATE "C",
    ALTER COLUMN event TYPE text COLLATE "C",
    ALTER COLUMN from_state TYPE text COLLATE "C",
    ALTER COLUMN to_state TYPE text COLLATE "C",
    ALTER COLUMN actor TYPE text COLLATE "C",
    ALTER COLUMN reason TYPE text COLLATE "C",
    ALTER COLUMN order_id TYPE text COLLATE "C";
ALTER TABLE {{prefix}}coupon_distributions
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN template_id TYPE text COLLATE "C",
    ALTER COLUMN users TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN failures TYPE text COLLATE "C";
ALTER TABLE {{prefix}}coupon_giftcard_auths
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN order_id TYPE text COLLATE "C",
    ALTER COLUMN coupon_id TYPE text COLLATE "C",
    ALTER COLUMN body TYPE text COLLATE "C";
ALTER TABLE {{prefix}}coupon_templates
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN body TYPE text COLLATE "C";
ALTER TABLE {{prefix}}coupons
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN template_id TYPE text COLLATE "C",
    ALTER COLUMN user_id TYPE text COLLATE "C",
    ALTER COLUMN code TYPE text COLLATE "C",
    ALTER COLUMN state TYPE text COLLATE "C",
    ALTER COLUMN frozen_from TYPE text COLLATE "C",
    ALTER COLUMN order_id TYPE text COLLATE "C",
    ALTER COLUMN discount TYPE text COLLATE "C";
ALTER TABLE {{prefix}}idempotency
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN operation TYPE text COLLATE "C",
    ALTER COLUMN idem_key TYPE text COLLATE "C",
    ALTER COLUMN fingerprint TYPE text COLLATE "C";
ALTER TABLE {{prefix}}leases
    ALTER COLUMN name TYPE text COLLATE "C",
    ALTER COLUMN owner TYPE text COLLATE "C";
ALTER TABLE {{prefix}}ledger_accounts
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN limit_asset TYPE text COLLATE "C",
    ALTER COLUMN metadata TYPE text COLLATE "C";
ALTER TABLE {{prefix}}ledger_balances
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN account TYPE text COLLATE "C",
    ALTER COLUMN asset TYPE text COLLATE "C";
ALTER TABLE {{prefix}}ledger_entries
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN account TYPE text COLLATE "C",
    ALTER COLUMN asset TYPE text COLLATE "C",
    ALTER COLUMN tx_id TYPE text COLLATE "C",
    ALTER COLUMN other TYPE text COLLATE "C";
ALTER TABLE {{prefix}}ledger_holds
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN hold_key TYPE text COLLATE "C",
    ALTER COLUMN fingerprint TYPE text COLLATE "C",
    ALTER COLUMN account TYPE text COLLATE "C",
    ALTER COLUMN destination TYPE text COLLATE "C",
    ALTER COLUMN asset TYPE text COLLATE "C",
    ALTER COLUMN metadata TYPE text COLLATE "C";
ALTER TABLE {{prefix}}ledger_lots
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN account TYPE text COLLATE "C",
    ALTER COLUMN asset TYPE text COLLATE "C",
    ALTER COLUMN tx_id TYPE text COLLATE "C";
ALTER TABLE {{prefix}}ledger_reversed
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN tx_id TYPE text COLLATE "C";
ALTER TABLE {{prefix}}ledger_transactions
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN tx_key TYPE text COLLATE "C",
    ALTER COLUMN fingerprint TYPE text COLLATE "C",
    ALTER COLUMN lines TYPE text COLLATE "C",
    ALTER COLUMN metadata TYPE text COLLATE "C",
    ALTER COLUMN reverses TYPE text COLLATE "C",
    ALTER COLUMN hold_id TYPE text COLLATE "C";
ALTER TABLE {{prefix}}outbox
    ALTER COLUMN event_id TYPE text COLLATE "C",
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN topic TYPE text COLLATE "C",
    ALTER COLUMN aggregate_type TYPE text COLLATE "C",
    ALTER COLUMN aggregate_id TYPE text COLLATE "C",
    ALTER COLUMN payload TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_accruals
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN member TYPE text COLLATE "C",
    ALTER COLUMN key TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_campaign_types
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN event_type TYPE text COLLATE "C",
    ALTER COLUMN campaign_id TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_campaigns
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN body TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_events
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN event_type TYPE text COLLATE "C",
    ALTER COLUMN flows TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_grants
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN campaign TYPE text COLLATE "C",
    ALTER COLUMN period TYPE text COLLATE "C",
    ALTER COLUMN participant TYPE text COLLATE "C",
    ALTER COLUMN slot TYPE text COLLATE "C",
    ALTER COLUMN award TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN ref TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_members
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN email TYPE text COLLATE "C",
    ALTER COLUMN name TYPE text COLLATE "C",
    ALTER COLUMN tier TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_parked
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN forward_id TYPE text COLLATE "C",
    ALTER COLUMN reverse_id TYPE text COLLATE "C",
    ALTER COLUMN body TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_progress
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN campaign TYPE text COLLATE "C",
    ALTER COLUMN period TYPE text COLLATE "C",
    ALTER COLUMN participant TYPE text COLLATE "C";
ALTER TABLE {{prefix}}reward_tier_changes
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN member TYPE text COLLATE "C",
    ALTER COLUMN from_tier TYPE text COLLATE "C",
    ALTER COLUMN to_tier TYPE text COLLATE "C",
    ALTER COLUMN reason TYPE text COLLATE "C";
ALTER TABLE {{prefix}}risk_deny
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN list_name TYPE text COLLATE "C",
    ALTER COLUMN value TYPE text COLLATE "C",
    ALTER COLUMN reason TYPE text COLLATE "C";
ALTER TABLE {{prefix}}risk_velocity
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN bucket_key TYPE text COLLATE "C";
ALTER TABLE {{prefix}}settlement_entries
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN party TYPE text COLLATE "C",
    ALTER COLUMN order_id TYPE text COLLATE "C",
    ALTER COLUMN statement_id TYPE text COLLATE "C",
    ALTER COLUMN body TYPE text COLLATE "C";
ALTER TABLE {{prefix}}settlement_orders
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN state TYPE text COLLATE "C",
    ALTER COLUMN body TYPE text COLLATE "C";
ALTER TABLE {{prefix}}settlement_statements
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN party TYPE text COLLATE "C",
    ALTER COLUMN currency TYPE text COLLATE "C",
    ALTER COLUMN body TYPE text COLLATE "C";
