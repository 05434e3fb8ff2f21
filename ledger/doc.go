// Package ledger is a double-entry ledger for points, stored value and
// settlement: accounts addressed by strings ("member:42:points",
// "merchant:10086:payable", "platform:revenue", and World, where issued
// value comes from), transactions of postings that are balanced per asset
// by construction, idempotent on a caller's key and committed atomically,
// balance floors held by conditional writes (no check-then-act race across
// host instances), two-phase holds (reserve, then capture or void, with
// expiry), reversals linked to their original, expiring lots consumed
// earliest first and swept to a configured account, and queries for
// posted, held and available balances, balances at a past time and
// paginated history. Every state change appends an outbox message in the
// same transaction.
//
// A transfer made inside a transaction of the host's own can be split in
// two: Prepare does everything that reads no store (validation, IDs,
// fingerprint, outbox message) before the transaction, and
// CommitPrepared commits it inside, so that the transaction holds its
// locks for the writes alone.
//
// Amounts are money.Amount at the edges and integer minor units inside.
// The ledger owns its Store interface; storage/memory and
// storage/sqlstore implement it, and storagetest.RunLedger checks them.
// See Example for a tour.
package ledger
