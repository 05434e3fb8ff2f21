// Command quickstart shows rewardkit on its embedded default, the
// in-memory store: no server, nothing to set up.
//
//	go run ./examples/quickstart
//
// It grants points, lets members claim a limited coupon, prices a cart with
// an automatic promotion and the coupon, checks out, and relays the events
// the commands wrote to the outbox.
package main
