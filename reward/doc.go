// Package reward runs incentive campaigns fed by host events (sales and
// service challenges, PK rankings) and loyalty programs (points and tiers).
//
// The host hands every upstream event (an order installed, an after-sale,
// a shop receipt, a property transfer, an attendance mark, or a custom
// type) to [Engine.Handle]. The event ID is the idempotency key, so an
// event delivered twice, or to two host instances at once, counts once.
// The Engine matches the event against the active campaigns that listen to
// its type (window, participants, eligibility rules from package rules,
// with the reasons an event did not count), turns it into a flow by the
// campaign's indicator strategy (order count, order amount, weighted
// product quantity, attendance days), adds the flow to the participant's
// progress for the period, and settles the gameplay: a CHALLENGE gives each
// tier once through the host's [Awarder], within the campaign's budget, and
// claws it back when a reverse event drops the value below the tier; a
// PK_RANKING keeps a leaderboard and awards rank bands at [Engine.Close].
//
// A reverse event (after-sale, refund) takes back what its forward event
// contributed; if it arrives first it waits for the forward. Decisions that
// depend on order use event time, never arrival time: a participant's
// ReachedAt is the latest event time among the flows applied to it, and
// ranks order by value, then ReachedAt, then participant ID. The tiers a
// participant holds under ClawbackOnReverse depend only on its final value.
// So a shuffled, duplicated stream consumed concurrently ends exactly where
// a sequential replay in event-time order ends, except where a budget cap
// binds: which awards fit a cap depends on which reached it first, and
// the cap itself always holds (a conditional increment in the store).
//
// Awards reach participants through an [Awarder] that joins the event's
// transaction: [LedgerAwarder] posts points or cash from a funding account
// (reversing them on claw back, and recording what was already spent as a
// shortfall), [CouponAwarder] claims coupons (freezing unused ones on claw
// back), and [Awarders] routes by award kind. Every award and claw back
// also appends a TopicGranted or TopicRevoked outbox message.
//
// [Loyalty] is a loyalty program: members registered with their tier,
// points earned by [EarningRule]s (CEL conditions, rates, multipliers,
// bonuses with windows, loadable from JSON), kept in a ledger as expiring
// lots, redeemed for [Offer]s (the debit and the coupon issue commit
// together), tiers by lifetime points or rolling spend that move up on
// earn and down in a sweep under a storage lease ([Loyalty.EvaluateTiers]),
// and each member's history.
//
// [Engine.DryRun] replays a recorded stream against a campaign draft in a
// private in-memory store and reports who would get what at which cost.
//
// State lives behind [Store], which the adapters in storage/memory and
// storage/sqlstore implement; correctness across host instances comes from
// their conditional writes, not from locks in this package.
//
// See Example for a sales challenge, ExampleEngine_Leaderboard for a
// ranking, ExampleNewLedgerAwarder for awards through the ledger and
// ExampleLoyalty for a loyalty program.
package reward
