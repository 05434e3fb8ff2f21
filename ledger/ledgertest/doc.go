// Package ledgertest checks a ledger.Store against a model: a stateful
// property test (pgregory.net/rapid) that runs random sequences of
// transfers, batches, holds, captures, voids, reversals, clock moves and
// expiry sweeps on a real Ledger and on a small in-memory model side by
// side, and after each step compares them and checks the invariants:
// every asset's balances sum to zero, held amounts equal the open holds,
// no account is below its floor, replays never duplicate, and a rejected
// command leaves the state exactly as it was.
//
// storagetest.RunLedger runs it on every adapter; the ledger package runs
// it on the memory adapter with more checks.
package ledgertest
