// Command loyalty runs a loyalty program on the in-memory store: members
// earn points by JSON-defined rules (one point per dollar, double for
// gold, a launch-week bonus on app orders), move up tiers by lifetime
// points, redeem points for a coupon, and lose points that lapse.
//
//	go run ./examples/loyalty
//
// The facade wires the program (rewardkit.New with Config.Loyalty) over
// its ledger and coupon service. Points live in the ledger as expiring
// lots; a redemption debits them and issues the coupon in one
// transaction. The output is deterministic: a fake clock and fixed keys.
package main
