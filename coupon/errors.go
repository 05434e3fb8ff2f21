package coupon

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of package coupon. Commands wrap them with context; test
// with errors.Is. Bad input returns one of them and changes nothing.
var (
	// ErrInvalidTemplate: a template that cannot be issued (missing fields,
	// a bad validity, a condition that does not compile, ...).
	ErrInvalidTemplate = errors.New("coupon: invalid template")
	// ErrInvalidRequest: a command got input it cannot accept (empty IDs,
	// a lock expiry in the past, a negative amount, ...).
	ErrInvalidRequest = errors.New("coupon: invalid request")
	// ErrUnknownTemplate: no template with that ID in this tenant.
	ErrUnknownTemplate = errors.New("coupon: unknown template")
	// ErrUnknownCoupon: no coupon with that ID in this tenant.
	ErrUnknownCoupon = errors.New("coupon: unknown coupon")
	// ErrUnknownCode: the code is well formed but no coupon carries it.
	ErrUnknownCode = errors.New("coupon: unknown code")
	// ErrMalformedCode: the code has the wrong length or a character
	// outside the code alphabet.
	ErrMalformedCode = errors.New("coupon: malformed code")
	// ErrBadCheckCharacter: the code's check character does not match (a
	// typo: one wrong character or two swapped neighbours). It also
	// matches ErrMalformedCode.
	ErrBadCheckCharacter = errors.New("coupon: code check character does not match")
	// ErrCodeTaken: the code was already redeemed by another user.
	ErrCodeTaken = errors.New("coupon: code already redeemed")
	// ErrOutOfStock: the template's total stock is exhausted.
	ErrOutOfStock = errors.New("coupon: out of stock")
	// ErrUserLimit: the user already holds as many coupons of the template
	// as it allows.
	ErrUserLimit = errors.New("coupon: per-user limit reached")
	// ErrOrderLimit: the order already uses as many coupons of the template
	// as it allows.
	ErrOrderLimit = errors.New("coupon: per-order limit reached")
	// ErrBudgetExhausted: nothing is left of the template's budget.
	ErrBudgetExhausted = errors.New("coupon: budget exhausted")
	// ErrNotStarted: the template or coupon is not valid yet.
	ErrNotStarted = errors.New("coupon: not valid yet")
	// ErrExpired: the template's claim window or the coupon's validity is
	// over.
	ErrExpired = errors.New("coupon: expired")
	// ErrNotClaimable: the template cannot be claimed (an automatic
	// promotion, or a code-only template claimed without a code).
	ErrNotClaimable = errors.New("coupon: template cannot be claimed")
	// ErrConditionFailed: a usage condition (a rule) did not pass; see
	// *ConditionError.
	ErrConditionFailed = errors.New("coupon: condition not met")
	// ErrNotApplicable: the coupon does not apply to the cart (no line in
	// scope, minimum spend not reached).
	ErrNotApplicable = errors.New("coupon: not applicable to the cart")
	// ErrCurrencyMismatch: an amount or cart is in another currency than
	// the template.
	ErrCurrencyMismatch = errors.New("coupon: currency mismatch")
	// ErrNotOwner: the coupon belongs to another user.
	ErrNotOwner = errors.New("coupon: coupon belongs to another user")
	// ErrIllegalTransition: the lifecycle does not allow the event in the
	// coupon's state; see *TransitionError.
	ErrIllegalTransition = errors.New("coupon: illegal transition")
	// ErrLocked: the coupon is locked (by another order). Transition errors
	// from LOCKED match it.
	ErrLocked = errors.New("coupon: locked")
	// ErrFrozen: the coupon is frozen. Transition errors from FROZEN match it.
	ErrFrozen = errors.New("coupon: frozen")
	// ErrUsed: the coupon is used. Transition errors from USED match it.
	ErrUsed = errors.New("coupon: already used")
	// ErrNotLocked: no coupon is locked for (or used by) the order.
	ErrNotLocked = errors.New("coupon: no coupon locked for the order")
	// ErrNoLedger: a gift-card command needs Config.Ledger.
	ErrNoLedger = errors.New("coupon: no ledger configured")
	// ErrNotGiftCard: a gift-card command named a coupon of another kind.
	ErrNotGiftCard = errors.New("coupon: not a gift card")
	// ErrNotActivated: the gift card is not activated yet (a code not yet
	// redeemed).
	ErrNotActivated = errors.New("coupon: not activated")
	// ErrInsufficientBalance: the gift card's available balance does not
	// cover the amount (or the card is spent). Errors carrying it from the
	// ledger also match ledger.ErrInsufficientFunds.
	ErrInsufficientBalance = errors.New("coupon: insufficient gift card balance")
	// ErrNotAuthorized: no gift-card authorization exists for the order.
	ErrNotAuthorized = errors.New("coupon: no gift card authorization for the order")
	// ErrOverRefund: a refund exceeds what the order captured and has not
	// refunded yet.
	ErrOverRefund = errors.New("coupon: refund exceeds the captured amount")
)

// TransitionError reports an event the lifecycle refused in the coupon's
// state. It matches ErrIllegalTransition, and also the sentinel of the
// state it was refused in (ErrLocked, ErrFrozen, ErrUsed, ErrExpired).
type TransitionError struct {
	CouponID string
	From     State
	Event    Event
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("coupon: %s: event %q not allowed in state %s", e.CouponID, e.Event, e.From)
}

// Is matches ErrIllegalTransition and the sentinel of the From state.
func (e *TransitionError) Is(target error) bool {
	if target == ErrIllegalTransition {
		return true
	}
	switch e.From {
	case StateLocked:
		return target == ErrLocked
	case StateFrozen:
		return target == ErrFrozen
	case StateUsed:
		return target == ErrUsed
	case StateExpired:
		return target == ErrExpired
	}
	return false
}

// ConditionError reports the usage conditions that did not pass. It
// matches ErrConditionFailed.
type ConditionError struct {
	TemplateID string
	Failed     []FailedCondition
}

// FailedCondition is one condition that did not pass and why.
type FailedCondition struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func (e *ConditionError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = f.Name + ": " + f.Reason
	}
	return fmt.Sprintf("coupon: template %s: condition not met: %s", e.TemplateID, strings.Join(parts, "; "))
}

// Is matches ErrConditionFailed.
func (e *ConditionError) Is(target error) bool { return target == ErrConditionFailed }

// codeError is a malformed code; a check failure also matches
// ErrBadCheckCharacter.
type codeError struct {
	msg   string
	check bool
}

func (e *codeError) Error() string { return "coupon: " + e.msg }

func (e *codeError) Is(target error) bool {
	return target == ErrMalformedCode || (e.check && target == ErrBadCheckCharacter)
}
