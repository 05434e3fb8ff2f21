// Package storage is the port between rewardkit's domain packages and the
// databases that hold their state.
//
// It defines what every adapter offers, whatever its database:
//
//   - [Transactor]: one atomic unit of work. Every store call made with the
//     context handed to the function joins the same transaction; nested calls
//     join the outer one; an error anywhere marks the whole unit rollback-only;
//     serialization failures re-run the function a bounded number of times.
//   - [TenantID]: the isolation boundary that scopes every stored record.
//   - Idempotency records ([IdempotencyStore], [Idempotent]): a command run
//     twice under the same key returns the first result.
//   - An outbox ([OutboxStore], [Relay]): events appended in the same
//     transaction as the state change, delivered at least once, in order per
//     aggregate, to a [Publisher] the host implements.
//   - Leases ([LeaseStore]): background work shared by many host instances
//     without two of them running the same batch.
//   - Bounded counters ([CounterStore]): atomic increments that never cross a
//     limit, the building block of stock, caps and velocity limits.
//   - A [Clock] injected everywhere time matters, with [FakeClock] for tests.
//
// Domain packages (ledger, coupon, ...) each define their own store
// interface; the adapters in storage/memory and storage/sqlstore implement
// all of them, and storage/storagetest checks that they behave alike.
package storage
