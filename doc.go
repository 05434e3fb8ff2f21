// Package rewardkit is an embeddable library for reward and coupon logic:
// coupons and their lifecycle, cart pricing, a double-entry decimal ledger,
// CEL eligibility rules and risk controls, incentive campaigns and loyalty,
// and clearing with reconciliation, all running inside the host's own
// service.
//
// # A tour
//
// A host picks a store and hands it to New, which wires every service over
// it:
//
//	store := memory.MustNew()                      // or sqlstore.OpenPostgres / OpenSQLite
//	kit, err := rewardkit.New(rewardkit.Config{Store: store})
//
// The services then share one database and one notion of a transaction:
//
//   - kit.Ledger (package ledger): accounts, balanced transfers, holds,
//     reversals and expiring point lots, exact to the minor unit.
//   - kit.Coupons (package coupon): templates, claims, codes, the lifecycle
//     state machine (activated, locked for an order, used, released,
//     frozen, expired, refunded) and stored-value gift cards.
//   - kit.Rules (package rules): CEL conditions compiled once and evaluated
//     fast, with explanations of what failed.
//   - kit.Risk (package rules/risk): velocity limits and deny lists held in
//     the store, so they hold across host instances.
//   - settlement.Price (package settlement): pure, replayable cart pricing
//     that allocates every discount over the lines exactly; kit.Orders runs
//     the order lifecycle (create, pay, fulfil, complete, refund, cancel),
//     clearing splits, settlement cycles and reconciliation.
//   - kit.Rewards (package reward): host events turned into progress and
//     awards by CHALLENGE and PK_RANKING campaigns, once per event ID;
//     kit.Loyalty: members, points earning and redemption, tiers.
//
// Every command takes a tenant (storage.TenantID): the business whose data
// it touches. Commands that change state are idempotent under a caller's key
// and append their domain events to the outbox in the same transaction;
// kit.Relay hands those to the host's broker. To make several commands one
// atomic unit, run them inside kit.Store.InTx with the context it passes.
//
// Background work (expiry sweeps, lock timeouts, the outbox relay) runs
// under leases, so every instance of the host can run kit.Background
// without two of them doing the same batch.
//
// The facade never imports a storage adapter: a host's binary carries only
// the database driver it picked.
package rewardkit
