// Package settlement prices carts and, in later parts, carries orders through
// clearing and settlement.
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
