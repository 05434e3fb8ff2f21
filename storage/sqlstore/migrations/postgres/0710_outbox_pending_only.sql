-- The outbox is read by the relay through its pending index
-- (partition_no, id) WHERE published_at IS NULL, and marked published by
-- partition and id through the same index: nothing looks a message up by
-- id alone. The primary key on id goes, one index entry less for every
-- message written (the id column keeps its sequence and stays unique by
-- it). Event IDs stay unique per tenant.
ALTER TABLE {{prefix}}outbox DROP CONSTRAINT IF EXISTS {{prefix}}outbox_pkey;
