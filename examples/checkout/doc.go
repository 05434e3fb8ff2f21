// Command checkout walks one order through rewardkit's settlement on the
// in-memory default store: a cart, an automatic threshold promotion, a
// claimed percent coupon and a gift card; payment; fulfilment and
// completion (clearing to platform, merchants and channel); a partial
// refund; a settlement statement; and a reconciliation report.
//
//	go run ./examples/checkout
package main
