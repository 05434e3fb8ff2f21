package main

import "context"

// Example runs the checkout walk-through; its output is deterministic (a
// fake clock, coupons named by template).
func Example() {
	if err := run(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// order A-1001 for alice (acme-mall), CREATED
	//        line  qty  amount  discount    net                           funded by
	//          l1    3   74.70     15.82  58.88   platform 9.59 merchant:sunny 6.23
	//          l2    2   24.00      5.08  18.92    platform 3.08 merchant:clay 2.00
	//          l3    1   39.00      8.25  30.75    platform 5.00 merchant:clay 3.25
	//   #shipping    1    6.00      0.00   6.00                                   -
	//   promotion:spend100 -10.00
	//   coupon of pct15    -19.15
	//   subtotal 143.70, discount 29.15, total 114.55: gift card 25.00, to pay 89.55
	//
	// paid 89.55 USD by card PSP-77 and 25.00 USD by gift card: PAID
	// completed and cleared:
	//   platform           -3.30
	//   merchant:sunny     62.37
	//   merchant:clay      48.30
	//   channel:app         7.18
	//
	// refund RMA-1: 9.46 USD (card 7.40 USD, gift card 2.06 USD), order back to COMPLETED
	//   clawback platform           -0.34
	//   clawback merchant:clay       9.20
	//   clawback channel:app         0.60
	//
	// statements due by 2025-08-16 09:00 UTC:
	//                       statement  cycle  items  total  status
	//    merchant:clay/2025-08-11/USD    T+3      1  48.30  issued
	//    merchant:clay/2025-08-12/USD    T+3      1  -9.20  issued
	//   merchant:sunny/2025-08-11/USD    T+3      1  62.37  issued
	//         platform/2025-08-11/USD    T+1      1  -3.30  issued
	//         platform/2025-08-12/USD    T+1      1   0.34  issued
	// moved to payout: 98.51 USD (the channel settles monthly)
	//
	// reconciliation: 1 orders, 4 ledger transactions, 1 used coupons checked, 0 mismatches
}
