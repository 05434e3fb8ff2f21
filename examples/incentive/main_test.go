package main

import (
	"context"
	"os"
)

// Example runs the program; its output is deterministic.
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// == stream
	// e01  order_installed august-sales/ann=1, shop-pk/north=1
	// e02  order_installed august-sales/ann=2, shop-pk/north=2, awarded ann 200 POINTS
	// e02  order_installed redelivered: the first outcome again, nothing counted
	// e03  order_installed august-sales/bo=1, shop-pk/south=1
	// e04  order_installed august-sales/ann=3, shop-pk/north=3
	// e05  order_installed august-sales/bo=2, shop-pk/south=2, awarded bo 200 POINTS
	// e05  order_installed redelivered: the first outcome again, nothing counted
	// r07  refund          parked until its order arrives
	// e06  order_installed august-sales/ann=4, shop-pk/north=4, awarded ann 1x coupon bonus-50
	// e07  order_installed released r07
	// e08  order_installed shop-pk/south=3, august-sales skipped (rule min-amount: order amount below 20.00 USD)
	// e09  order_installed august-sales/bo=3, shop-pk/south=4
	// r04  refund          august-sales/ann=3, shop-pk/north=3, clawed_back ann 1x coupon bonus-50
	// e10  order_installed august-sales/cy=1, shop-pk/east=1
	// == challenge awards held
	// ann    tier/0  awarded     200 POINTS
	// ann    tier/1  clawed_back 1x coupon bonus-50
	// bo     tier/0  awarded     200 POINTS
	// == shop ranking at close
	// #1 south  4 orders
	// #2 north  3 orders
	// #3 east   1 orders
	// south  rank/1  1000 POINTS
	// north  rank/2  500 POINTS
	// == point balances
	// staff:ann:points             200 POINTS
	// staff:bo:points              200 POINTS
	// staff:cy:points              0 POINTS
	// staff:north:points           500 POINTS
	// staff:south:points           1000 POINTS
	// campaign:august-sales:budget 9600 POINTS
	// campaign:shop-pk:budget      8500 POINTS
	// coupons of ann [FROZEN]
	// coupons of bo  []
	// == outbox
	// reward.granted             5
	// reward.revoked             1
}
