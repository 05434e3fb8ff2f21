package money

import (
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/shopspring/decimal"
)

// Amount is a decimal value in a currency. It is an immutable value type: every
// operation returns a new Amount. An Amount usually sits at its currency's scale
// (IsExact); intermediate results of Mul or ParseLoose may carry more decimals until
// they are rounded with Round or MulRound at a named place with a named mode.
//
// The zero Amount has no currency; use Zero(c) for a zero in a currency.
type Amount struct {
	// An amount that holds exactly its currency's decimals, with minor
	// units that fit an int64 (every amount built from minor units, and
	// nearly every amount a shop sees), keeps them in minor and does its
	// arithmetic on them: no big.Int is made for it. The others keep
	// their decimal in value (nil for the minor form), so that an Amount
	// is 40 bytes: orders and carts hold many. The choice is canonical,
	// one form per decimal coefficient and exponent, so two Amounts that
	// were alike field by field (reflect.DeepEqual, as tests compare them)
	// still are.
	minor int64
	value *decimal.Decimal // nil: the minor form
	cur   Currency
}

// New returns value in currency c, as given (not rounded).
func New(value decimal.Decimal, c Currency) Amount { return fromDecimal(value, c) }

// Zero returns zero in currency c, at c's scale.
func Zero(c Currency) Amount { return Amount{cur: c} }

// FromMinor returns the amount of units minor units of c (1230 USD cents -> 12.30 USD).
func FromMinor(units int64, c Currency) Amount { return Amount{minor: units, cur: c} }

// fromDecimal returns d in c in the canonical form: minor units when d has
// exactly c's decimals and they fit an int64.
func fromDecimal(d decimal.Decimal, c Currency) Amount {
	if d.Exponent() == -c.scale {
		if d.NumDigits() <= 18 {
			return Amount{minor: d.CoefficientInt64(), cur: c}
		}
		if co := d.Coefficient(); co.IsInt64() {
			return Amount{minor: co.Int64(), cur: c}
		}
	}
	return Amount{value: &d, cur: c}
}

// Decimal returns the value.
func (a Amount) Decimal() decimal.Decimal {
	if a.value != nil {
		return *a.value
	}
	return decimal.New(a.minor, -a.cur.scale)
}

// Currency returns the currency.
func (a Amount) Currency() Currency { return a.cur }

// Units returns the minor units and true when the amount holds exactly its
// currency's decimals and they fit an int64 (as every amount FromMinor
// makes), the amounts kept without a decimal; else 0 and false. Unlike
// Minor it tells 12.30 from 12.3 (false: one decimal only), so that what
// is rebuilt with FromMinor is written the same way.
func (a Amount) Units() (int64, bool) {
	if a.value != nil {
		return 0, false
	}
	return a.minor, true
}

// Minor returns the value as an exact count of minor units (12.30 USD -> 1230).
// It returns an error wrapping ErrPrecision if the value has nonzero digits beyond the
// currency's scale, or ErrOverflow if the count does not fit an int64.
func (a Amount) Minor() (int64, error) {
	if a.value == nil {
		return a.minor, nil
	}
	// Kept as a decimal: either not at the currency's scale, or beyond an
	// int64 there (fromDecimal keeps every other amount in minor units).
	bi, err := a.minorBig()
	if err != nil {
		return 0, err
	}
	if !bi.IsInt64() {
		return 0, fmt.Errorf("%w: %s in minor units exceeds int64", ErrOverflow, a)
	}
	return bi.Int64(), nil
}

// AppendFixed appends a.StringFixed() to b. An amount that holds exactly
// its currency's decimals (any amount built from minor units) is written
// from its minor units, without formatting a decimal.
func (a Amount) AppendFixed(b []byte) []byte {
	if a.value == nil {
		return AppendMinor(b, a.minor, int(a.cur.scale))
	}
	return append(b, a.StringFixed()...)
}

// AppendMinor appends minor units of a currency with scale decimals as
// StringFixed writes the amount: (1230, 2) -> "12.30", (-5, 2) ->
// "-0.05", (7, 0) -> "7". It is for hot paths that write JSON by hand.
func AppendMinor(b []byte, minor int64, scale int) []byte {
	if scale <= 0 {
		return strconv.AppendInt(b, minor, 10)
	}
	u := uint64(minor)
	if minor < 0 {
		b = append(b, '-')
		u = -u // two's complement: right for math.MinInt64 too
	}
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], u, 10)
	if len(digits) <= scale { // 0.0ddd
		b = append(b, '0', '.')
		for range scale - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	cut := len(digits) - scale
	b = append(b, digits[:cut]...)
	b = append(b, '.')
	return append(b, digits[cut:]...)
}

// minorBig returns the exact minor units as a big.Int, or ErrPrecision.
func (a Amount) minorBig() (*big.Int, error) {
	if a.value == nil {
		return big.NewInt(a.minor), nil
	}
	shifted := a.value.Shift(a.cur.scale)
	if !shifted.IsInteger() {
		return nil, fmt.Errorf("%w: %s has more than %d decimals", ErrPrecision, a, a.cur.scale)
	}
	return shifted.BigInt(), nil
}

// Sign returns -1, 0 or +1.
func (a Amount) Sign() int {
	switch {
	case a.value != nil:
		return a.value.Sign()
	case a.minor > 0:
		return 1
	case a.minor < 0:
		return -1
	}
	return 0
}

// IsZero reports whether the value is zero.
func (a Amount) IsZero() bool { return a.Sign() == 0 }

// IsPositive reports whether the value is above zero.
func (a Amount) IsPositive() bool { return a.Sign() > 0 }

// IsNegative reports whether the value is below zero.
func (a Amount) IsNegative() bool { return a.Sign() < 0 }

// IsExact reports whether the value has no nonzero digits beyond its currency's scale.
func (a Amount) IsExact() bool {
	if a.value == nil || a.value.Exponent() >= -a.cur.scale {
		return true
	}
	return a.value.Shift(a.cur.scale).IsInteger()
}

// Add returns a+b. It returns a *MismatchError (errors.Is ErrCurrencyMismatch) if the
// currencies differ.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.cur != b.cur {
		return Amount{}, mismatch("add", a.cur, b.cur)
	}
	if a.value == nil && b.value == nil {
		if sum := a.minor + b.minor; (sum > a.minor) == (b.minor > 0) {
			return Amount{minor: sum, cur: a.cur}, nil
		}
	}
	return fromDecimal(a.Decimal().Add(b.Decimal()), a.cur), nil
}

// Sub returns a-b. It returns a *MismatchError (errors.Is ErrCurrencyMismatch) if the
// currencies differ.
func (a Amount) Sub(b Amount) (Amount, error) {
	if a.cur != b.cur {
		return Amount{}, mismatch("sub", a.cur, b.cur)
	}
	if a.value == nil && b.value == nil {
		if diff := a.minor - b.minor; (diff < a.minor) == (b.minor > 0) {
			return Amount{minor: diff, cur: a.cur}, nil
		}
	}
	return fromDecimal(a.Decimal().Sub(b.Decimal()), a.cur), nil
}

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b. It returns a
// *MismatchError (errors.Is ErrCurrencyMismatch) if the currencies differ.
func (a Amount) Cmp(b Amount) (int, error) {
	if a.cur != b.cur {
		return 0, mismatch("cmp", a.cur, b.cur)
	}
	return a.cmp(b), nil
}

// cmp compares a and b, of one currency.
func (a Amount) cmp(b Amount) int {
	if a.value == nil && b.value == nil {
		switch {
		case a.minor < b.minor:
			return -1
		case a.minor > b.minor:
			return 1
		}
		return 0
	}
	return a.Decimal().Cmp(b.Decimal())
}

// Equal reports whether a and b have the same currency and numerically equal values
// (12.3 and 12.30 are equal).
func (a Amount) Equal(b Amount) bool { return a.cur == b.cur && a.cmp(b) == 0 }

// Neg returns -a.
func (a Amount) Neg() Amount {
	if a.value == nil && a.minor != math.MinInt64 {
		return Amount{minor: -a.minor, cur: a.cur}
	}
	return fromDecimal(a.Decimal().Neg(), a.cur)
}

// Abs returns |a|.
func (a Amount) Abs() Amount {
	if a.Sign() >= 0 {
		return a
	}
	return a.Neg()
}

// Mul returns a*d exactly, unrounded; the result may carry more decimals than the
// currency's scale. Round it before storing or displaying it as money.
func (a Amount) Mul(d decimal.Decimal) Amount { return fromDecimal(a.Decimal().Mul(d), a.cur) }

// MulRound returns a*d rounded to the currency's scale with mode. It panics on an
// undeclared mode.
func (a Amount) MulRound(d decimal.Decimal, mode RoundingMode) Amount {
	return fromDecimal(roundDecimal(a.Decimal().Mul(d), a.cur.scale, mode), a.cur)
}

// Round returns a rounded to its currency's scale with mode. It panics on an
// undeclared mode.
func (a Amount) Round(mode RoundingMode) Amount { return a.RoundTo(a.cur.scale, mode) }

// RoundTo returns a rounded to scale decimals with mode (a negative scale rounds to
// tens, hundreds, ...). It panics on an undeclared mode.
func (a Amount) RoundTo(scale int32, mode RoundingMode) Amount {
	if a.value == nil && scale == a.cur.scale {
		checkMode(mode)
		return a // already there, in every mode
	}
	return fromDecimal(roundDecimal(a.Decimal(), scale, mode), a.cur)
}

// Min returns the smaller of a and b (a when equal). It returns a *MismatchError
// (errors.Is ErrCurrencyMismatch) if the currencies differ.
func Min(a, b Amount) (Amount, error) {
	if a.cur != b.cur {
		return Amount{}, mismatch("min", a.cur, b.cur)
	}
	if b.cmp(a) < 0 {
		return b, nil
	}
	return a, nil
}

// Max returns the larger of a and b (a when equal). It returns a *MismatchError
// (errors.Is ErrCurrencyMismatch) if the currencies differ.
func Max(a, b Amount) (Amount, error) {
	if a.cur != b.cur {
		return Amount{}, mismatch("max", a.cur, b.cur)
	}
	if b.cmp(a) > 0 {
		return b, nil
	}
	return a, nil
}

// Sum returns the total of amounts in currency c; with no amounts it returns Zero(c).
// It returns a *MismatchError (errors.Is ErrCurrencyMismatch) if any amount is in
// another currency.
func Sum(c Currency, amounts ...Amount) (Amount, error) {
	total := Zero(c)
	for _, x := range amounts {
		if x.cur != c {
			return Amount{}, mismatch("sum", c, x.cur)
		}
		total, _ = total.Add(x) // one currency: no error
	}
	return total, nil
}

// String returns the value with at least the currency's scale of decimals, a space
// and the code: "12.30 USD". Extra decimals of an inexact value are kept, never rounded.
func (a Amount) String() string {
	if a.cur.IsZero() {
		return a.StringFixed()
	}
	return a.StringFixed() + " " + a.cur.code
}

// StringFixed returns the value in plain decimal notation with at least the currency's
// scale of decimals: "12.30". It never rounds and never uses an exponent.
func (a Amount) StringFixed() string {
	if a.value == nil {
		var buf [24]byte
		return string(AppendMinor(buf[:0], a.minor, int(a.cur.scale)))
	}
	places := a.cur.scale
	if e := -a.value.Exponent(); e > places {
		places = e
	}
	// StringFixed with places >= -exponent only pads, and ignores the decimal
	// package's formatting globals.
	return a.value.StringFixed(places)
}
