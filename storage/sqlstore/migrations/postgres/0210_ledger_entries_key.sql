-- An account's history is read by (tenant, account, seq), and nothing
-- reads an entry by seq alone: make that the primary key and drop the
-- index it duplicates. Every posting writes one index entry less, and the
-- entries of different accounts no longer all land on the last page of
-- one index.
ALTER TABLE {{prefix}}ledger_entries DROP CONSTRAINT {{prefix}}ledger_entries_pkey;
ALTER TABLE {{prefix}}ledger_entries ADD CONSTRAINT {{prefix}}ledger_entries_pkey PRIMARY KEY (tenant, account, seq);
DROP INDEX IF EXISTS {{prefix}}ledger_entries_account;
