-- package ledger: an entry's seq carries its time. The bits above the
-- low 21 are the entry's time in Unix milliseconds, the low 21 come from
-- the entries' sequence (see entrySeq in ledger.go), so entries are
-- numbered in time order and the primary key (tenant, account, seq)
-- answers both an account's history and its balance at a past time. The
-- (tenant, account, asset, at, seq) index goes: every posting writes one
-- index entry per side instead of two. Every insert now gives seq, so the
-- column loses its default; entries already stored are renumbered the
-- same way (their new numbers lie above every old one, so no two meet).

UPDATE {{prefix}}ledger_entries
    SET seq = (floor(extract(epoch from at) * 1000)::bigint << 21) | (seq & 2097151);
ALTER TABLE {{prefix}}ledger_entries ALTER COLUMN seq DROP DEFAULT;
DROP INDEX IF EXISTS {{prefix}}ledger_entries_at;
