// Package coupon runs coupon templates, their issuance and the lifecycle of
// every issued coupon.
//
// A [Template] says what a coupon grants (a [Benefit]: percent off with a
// cap, an amount off, spend X save Y, tiers, a gift card, free shipping,
// buy X get Y), where it applies ([Scope]), how it stacks ([Stacking]),
// who pays for it ([Funding]), the usage conditions as CEL rules
// ([Condition], compiled with package rules), its [Validity] (a fixed
// window, or N days from the claim in a time zone) and its [Limits] (total
// stock, per user, per order, a money budget). An automatic promotion
// (Template.Auto) needs no coupon: pricing finds it through
// [Service.Usable].
//
// Coupons are issued by [Service.Claim], by a resumable batch
// ([Service.Distribute]) or as unguessable codes ([Service.GenerateCodes],
// redeemed with [Service.RedeemCode]); codes use a look-alike-free
// alphabet with a check character that catches every single typo and every
// swap of neighbours ([ParseCode]).
//
// The lifecycle is one looplab/fsm transition table, read once per
// Service into a lookup table (checked against a fresh FSM per call in
// the tests): UNACTIVATED -> ACTIVATED -> LOCKED (one order, until a
// deadline) -> USED, or back to ACTIVATED on release; FROZEN and back for
// risk control; EXPIRED; REFUNDED (then burnt or restored). Every
// transition is written with a conditional update on (coupon, state,
// version), an [AuditEntry] and an outbox message in one transaction; an
// illegal one returns a [*TransitionError] and changes nothing. Stock,
// caps and budgets are bounded counters in the database, so many host
// instances can share one PostgreSQL without locks of their own. A claim
// made outside a caller's transaction is one atomic step of the store: on
// PostgreSQL one statement, which concurrent claims of a template share,
// taking the template's hot stock row last and once per statement.
//
// Gift cards (KindGiftCard) are stored value in a ledger
// (Config.Ledger): funded when issued, spent over many orders through
// ledger holds and captures ([Service.AuthorizeGiftCard],
// [Service.CaptureGiftCard], [Service.VoidGiftCard],
// [Service.RefundGiftCard], [Service.GiftCardBalance]). A card stays
// ACTIVATED while it has value, moves to USED when spent and back on a
// refund; it is never LOCKED by one order.
//
// See Example for a claim, lock and use, ExampleService_GenerateCodes
// for codes and ExampleService_AuthorizeGiftCard for a gift card.
package coupon
