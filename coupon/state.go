package coupon

import (
	"github.com/looplab/fsm"

	"github.com/rewardkit/rewardkit/internal/fsmtable"
)

// State is where a coupon is in its lifecycle.
type State string

// The lifecycle states.
const (
	// StateUnactivated: issued but not yet owned (a generated code not yet
	// redeemed).
	StateUnactivated State = "UNACTIVATED"
	// StateActivated: owned by a user and usable.
	StateActivated State = "ACTIVATED"
	// StateLocked: reserved for one order until the lock expires.
	StateLocked State = "LOCKED"
	// StateUsed: consumed by a paid order.
	StateUsed State = "USED"
	// StateFrozen: held by risk control; Unfreeze returns it to the state it
	// was frozen from.
	StateFrozen State = "FROZEN"
	// StateExpired: its validity is over.
	StateExpired State = "EXPIRED"
	// StateRefunded: its order was refunded and the template burns refunded
	// coupons (RefundBurn).
	StateRefunded State = "REFUNDED"
)

// States lists every state, in lifecycle order.
func States() []State {
	return []State{StateUnactivated, StateActivated, StateLocked, StateUsed, StateFrozen, StateExpired, StateRefunded}
}

// Valid reports whether s is one of the declared states.
func (s State) Valid() bool {
	switch s {
	case StateUnactivated, StateActivated, StateLocked, StateUsed, StateFrozen, StateExpired, StateRefunded:
		return true
	}
	return false
}

// Event is a lifecycle event: what happened to a coupon.
type Event string

// The lifecycle events.
const (
	EventClaim    Event = "claim"    // UNACTIVATED -> ACTIVATED: a user claimed a new coupon
	EventActivate Event = "activate" // UNACTIVATED -> ACTIVATED: a code was redeemed
	EventLock     Event = "lock"     // ACTIVATED -> LOCKED: reserved for an order
	EventUse      Event = "use"      // LOCKED -> USED: the order was paid
	EventRelease  Event = "release"  // LOCKED -> ACTIVATED: order cancelled or lock timed out
	EventFreeze   Event = "freeze"   // ACTIVATED, LOCKED -> FROZEN: risk control
	EventUnfreeze Event = "unfreeze" // FROZEN -> the state it was frozen from
	EventExpire   Event = "expire"   // ACTIVATED -> EXPIRED
	EventRefund   Event = "refund"   // USED -> REFUNDED: the order was refunded
	EventRestore  Event = "restore"  // REFUNDED -> ACTIVATED: refund policy RefundRestore
	// EventDeplete: ACTIVATED -> USED: a gift card's balance reached zero.
	// A gift card is never LOCKED by an order: it stays ACTIVATED while
	// value is left on it, however many orders hold part of it.
	EventDeplete Event = "deplete"
	// EventReplenish: USED -> ACTIVATED: a refund put value back on a
	// spent gift card.
	EventReplenish Event = "replenish"
)

// Events lists every event.
func Events() []Event {
	return []Event{EventClaim, EventActivate, EventLock, EventUse, EventRelease, EventFreeze, EventUnfreeze, EventExpire, EventRefund, EventRestore,
		EventDeplete, EventReplenish}
}

// unfreezeLocked is the fsm event behind EventUnfreeze for a coupon frozen
// from LOCKED: looplab/fsm maps (event, source) to one destination, so the
// two ways back out of FROZEN are two fsm events.
const unfreezeLocked = "unfreeze_locked"

// transitions is the one transition table of the coupon lifecycle.
var transitions = fsm.Events{
	{Name: string(EventClaim), Src: []string{string(StateUnactivated)}, Dst: string(StateActivated)},
	{Name: string(EventActivate), Src: []string{string(StateUnactivated)}, Dst: string(StateActivated)},
	{Name: string(EventLock), Src: []string{string(StateActivated)}, Dst: string(StateLocked)},
	{Name: string(EventUse), Src: []string{string(StateLocked)}, Dst: string(StateUsed)},
	{Name: string(EventRelease), Src: []string{string(StateLocked)}, Dst: string(StateActivated)},
	{Name: string(EventFreeze), Src: []string{string(StateActivated), string(StateLocked)}, Dst: string(StateFrozen)},
	{Name: string(EventUnfreeze), Src: []string{string(StateFrozen)}, Dst: string(StateActivated)},
	{Name: unfreezeLocked, Src: []string{string(StateFrozen)}, Dst: string(StateLocked)},
	{Name: string(EventExpire), Src: []string{string(StateActivated)}, Dst: string(StateExpired)},
	{Name: string(EventRefund), Src: []string{string(StateUsed)}, Dst: string(StateRefunded)},
	{Name: string(EventRestore), Src: []string{string(StateRefunded)}, Dst: string(StateActivated)},
	{Name: string(EventDeplete), Src: []string{string(StateActivated)}, Dst: string(StateUsed)},
	{Name: string(EventReplenish), Src: []string{string(StateUsed)}, Dst: string(StateActivated)},
}

// fsmName is the looplab/fsm event behind ev for a coupon frozen from
// frozenFrom, and false for a name callers may not fire.
func fsmName(ev Event, frozenFrom State) (string, bool) {
	if ev == unfreezeLocked { // internal name: not an event callers may fire
		return "", false
	}
	if ev == EventUnfreeze && frozenFrom == StateLocked {
		return unfreezeLocked, true
	}
	return string(ev), true
}

// lifecycle is the transition table of the fsm declaration above, read
// once when a Service is made (fsmtable.Build): the fsm.Events stay the
// one source of truth, and a command looks its transition up instead of
// building an FSM.
type lifecycle struct{ fsmtable.Table[State] }

func newLifecycle() lifecycle { return lifecycle{fsmtable.Build(States(), transitions)} }

// next returns where ev leads a coupon stored at from, or a
// *TransitionError. frozenFrom picks the way out of FROZEN. The tests
// check it against firing ev on a short-lived FSM (next in state_test.go).
func (l lifecycle) next(couponID string, from State, frozenFrom State, ev Event) (State, error) {
	if name, ok := fsmName(ev, frozenFrom); ok {
		if to, ok := l.Next(from, name); ok {
			return to, nil
		}
	}
	return from, &TransitionError{CouponID: couponID, From: from, Event: ev}
}
