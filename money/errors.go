package money

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package is, or wraps, one of them,
// so callers branch with errors.Is.
var (
	// ErrInvalidCurrency reports a malformed currency code or scale, a zero Currency
	// where a real one is needed, or a conflicting registration.
	ErrInvalidCurrency = errors.New("money: invalid currency")
	// ErrUnknownCurrency reports a code that no table or registry knows.
	ErrUnknownCurrency = errors.New("money: unknown currency")
	// ErrCurrencyMismatch reports an operation on amounts of different currencies.
	// The concrete error is a *MismatchError naming both currencies.
	ErrCurrencyMismatch = errors.New("money: currency mismatch")
	// ErrInvalidAmount reports text that is not a plain decimal number.
	ErrInvalidAmount = errors.New("money: invalid amount")
	// ErrPrecision reports a value with more decimals than its currency's scale
	// where an exact value was required.
	ErrPrecision = errors.New("money: precision exceeds currency scale")
	// ErrOverflow reports a value that does not fit the requested integer type.
	ErrOverflow = errors.New("money: overflow")
	// ErrInvalidWeights reports allocation weights that are empty, all zero or negative.
	ErrInvalidWeights = errors.New("money: invalid weights")
	// ErrInvalidRatios reports split ratios that are negative or do not sum to exactly 1.
	ErrInvalidRatios = errors.New("money: invalid ratios")
)

// MismatchError is returned when two amounts of different currencies meet in one
// operation. It matches ErrCurrencyMismatch under errors.Is.
type MismatchError struct {
	Op    string   // the operation, such as "add" or "cmp"
	Left  Currency // currency of the receiver (or first operand)
	Right Currency // currency of the other operand
}

func (e *MismatchError) Error() string {
	l, r := e.Left.describe(), e.Right.describe()
	if l == r { // same code, different scale: show both scales
		l = fmt.Sprintf("%s/%d", l, e.Left.scale)
		r = fmt.Sprintf("%s/%d", r, e.Right.scale)
	}
	return fmt.Sprintf("money: currency mismatch in %s: %s vs %s", e.Op, l, r)
}

// Is reports whether target is ErrCurrencyMismatch.
func (e *MismatchError) Is(target error) bool { return target == ErrCurrencyMismatch }

func mismatch(op string, a, b Currency) error {
	return &MismatchError{Op: op, Left: a, Right: b}
}
