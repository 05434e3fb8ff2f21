// Command incentive runs a sales incentive center on the in-memory store:
// a CHALLENGE that pays points and coupons for installed orders, and a
// PK_RANKING of shops settled at close, both fed by one event stream in
// which the queue delivers some events twice and some orders come back as
// refunds (one of them before its order).
//
//	go run ./examples/incentive
//
// Awards go through the ledger (points, from a funded campaign budget
// account) and the coupon service, inside each event's transaction, and
// every award and claw back lands in the outbox. The output is
// deterministic: a fake clock and fixed event IDs.
package main
