package settlement

import (
	"errors"
	"fmt"

	"github.com/rewardkit/rewardkit/storage"
)

// Errors of orders, clearing, cycles and reconciliation. Commands wrap them
// with context; test with errors.Is. Bad input returns one of them and
// changes nothing.
var (
	// ErrInvalidRequest: a command got input it cannot accept (an empty
	// ID, a negative or inexact amount, a refund quantity beyond what is
	// left, a gift card amount above the order total, ...).
	ErrInvalidRequest = errors.New("settlement: invalid request")
	// ErrInvalidConfig: Config misses something New needs, or holds a bad
	// split or cycle.
	ErrInvalidConfig = errors.New("settlement: invalid config")
	// ErrOrderNotFound: no order with that ID in this tenant.
	ErrOrderNotFound = errors.New("settlement: order not found")
	// ErrStatementNotFound: no statement with that ID in this tenant.
	ErrStatementNotFound = errors.New("settlement: statement not found")
	// ErrIllegalTransition: the order lifecycle does not allow the event
	// in the order's state; see *TransitionError.
	ErrIllegalTransition = errors.New("settlement: illegal order transition")
	// ErrRequote: the offers snapshot the order was priced with no longer
	// holds (a coupon's or an automatic promotion's budget was cut or
	// exhausted meanwhile): price again
	// with a fresh snapshot. Nothing was written.
	ErrRequote = errors.New("settlement: quote is stale, price again")
	// ErrAmountMismatch: a payment's amount or currency is not what the
	// order asks for.
	ErrAmountMismatch = errors.New("settlement: amount does not match the order")
	// ErrOrderMismatch: an order ID (or payment reference) was used before
	// with another request. It also matches storage.ErrIdempotencyMismatch.
	ErrOrderMismatch = fmt.Errorf("settlement: order reused with a different request: %w", storage.ErrIdempotencyMismatch)
	// ErrNothingToRefund: the refund asks for nothing, or the order has
	// nothing left to refund.
	ErrNothingToRefund = errors.New("settlement: nothing to refund")
	// ErrStatementNotHeld: only a held statement can be released.
	ErrStatementNotHeld = errors.New("settlement: statement is not held")
)

// TransitionError reports an event the order lifecycle refused in the
// order's state. It matches ErrIllegalTransition.
type TransitionError struct {
	OrderID string
	From    OrderState
	Event   OrderEvent
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("settlement: order %s: event %q not allowed in state %s", e.OrderID, e.Event, e.From)
}

// Is matches ErrIllegalTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }
