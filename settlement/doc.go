// Package settlement prices carts and carries orders through payment,
// clearing, settlement and reconciliation.
//
// A Service runs the order lifecycle (a looplab/fsm table, read once into a
// lookup when the Service is made; the stored state is the source of truth:
// CREATED -> PAID -> FULFILLED -> COMPLETED,
// CREATED -> CANCELLED, refunds through REFUNDING to REFUNDED, CLOSED), one
// storage transaction per step in which the order, its coupons, its ledger
// postings and its outbox events commit together. CreateOrder prices a cart
// with an offer snapshot (Offers) and locks its coupons and charges its
// automatic promotions, re-checking their budgets atomically (ErrRequote),
// and holds gift card amounts; Pay uses the coupons,
// captures the holds and posts the payment (the ledger last, as the
// balances every payment writes stay locked until the commit on a
// database; and from the Service's own copy of an order it created, see
// Config.RecentOrders, without reading it first); Complete clears the net to the
// parties by a split (money.AllocateMinor, discounts charged to their
// funders); Refund returns refunded units exactly and claws back in
// proportion; RunCycles issues statements per party on T+N or monthly
// cycles in the tenant's time zone, under a lease; Reconcile reports every
// disagreement between orders, coupons and the ledger. See
// examples/checkout for the whole flow.
//
// Price is a pure function: given a Cart (lines with SKU, category, merchant,
// unit price and quantity, plus a shipping fee) and a snapshot of the offers
// that may apply (automatic promotions and the customer's applied coupons,
// each with its coupon.Benefit, coupon.Scope, coupon.Stacking and
// coupon.Funding), it returns a Quote: every discount allocated exactly over
// its eligible lines by largest remainder, who funds each part, what each
// discount wanted and what it gave after caps and budgets, and a reason code
// for every offer that did not apply. The same cart and snapshot always give
// the same Quote, and the Quote records each offer's Version so a price can be
// replayed. With Options.BestCombination, Price also picks the subset of the
// customer's coupons that saves the most. Amounts are whole minor units inside
// the engine; money.Amount appears only at the edges.
//
// See ExamplePrice.
package settlement
