// Package risk holds rewardkit's stateful risk controls: velocity limits
// ("at most 10 coupon claims per IP in 5 minutes"), deny lists of phones,
// devices, users, IPs and merchants, and thresholds on amounts ("review
// redemptions of 1,000.00 or more"). An Engine judges an Action against
// its policies and returns a Decision, Allow, Review, Reject or Freeze,
// with one Reason per policy that fired; the host carries it out (refuses
// the claim, freezes the coupon, delays the settlement).
//
// Counters and lists live in a Store, implemented by storage/memory and
// storage/sqlstore, so the limits hold across every host instance sharing
// one database: a velocity hit is one conditional write per fixed window,
// and no window ever admits more than its limit, whatever the concurrency.
// Store calls join the storage.Transactor transaction in the context, so a
// check can commit or roll back with the host's own work. Assess is a dry
// run that counts nothing; Prune clears ended windows and expired entries.
//
// See ExampleNew for "more than 10 claims from one IP in 5 minutes
// freezes the account", ExampleEngine_Deny for deny lists and
// ExampleThreshold for high-value and cash-out review.
package risk
