-- package settlement: reconciliation lists the open ledger holds of one
-- destination (the clearing account) to find gift card holds that belong
-- to no order. Open holds are few, so a partial index keeps it small.

CREATE INDEX IF NOT EXISTS {{prefix}}settlement_open_holds ON {{prefix}}ledger_holds (tenant, destination, id) WHERE status = 1;
