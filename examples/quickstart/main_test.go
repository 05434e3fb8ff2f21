package main

import "context"

// Example runs the quick start; its output is deterministic (a fake clock).
func Example() {
	if err := run(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// member 42 points: 100 POINTS
	// user 42: claimed coupon, ACTIVATED
	// user 42: claim refused: coupon: per-user limit reached: user 42, template PCT20 (1 per user)
	// user 7: claimed coupon, ACTIVATED
	// user 8: claim refused: coupon: out of stock: template PCT20 (stock 2)
	// discount SPEND100 -10.00
	// discount PCT20    -18.99
	// line l1: 59.97 - 16.56 = 43.41
	// line l2: 45.00 - 12.43 = 32.57
	// subtotal 104.97, discount 28.99, total 75.98
	// order A-1 PAID; coupon USED
	// relayed 8 events: coupon.claim x2 coupon.lock x1 coupon.use x1 ledger.transaction.committed x2 settlement.order.created x1 settlement.order.paid x1
}
