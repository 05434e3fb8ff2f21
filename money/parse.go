package money

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

// maxDigits bounds the integer and the fraction digits Parse accepts, each, so that
// outside input cannot make us build enormous numbers.
const maxDigits = 64

// Parse reads s, a plain decimal number ("12.30", "-5", "0.5"), as an amount of c.
// The grammar is an optional '-', one or more digits, and optionally '.' followed by one
// or more digits; no '+', exponent, spaces, or separators. Digits beyond c's scale are
// allowed only if they are zeros ("12.300" USD is 12.30); the result sits at c's scale.
//
// It returns an error wrapping ErrInvalidCurrency if c is the zero Currency,
// ErrInvalidAmount if s does not follow the grammar or has more than 64 digits before
// or after the point, and
// ErrPrecision if s has nonzero digits beyond c's scale.
func Parse(s string, c Currency) (Amount, error) {
	return parse(s, c, true)
}

// ParseLoose is Parse for intermediate values: it keeps every decimal of s, even beyond
// c's scale (a unit price of "0.0125" USD); the result has at least c's scale.
// It returns ErrInvalidCurrency or ErrInvalidAmount (wrapped).
func ParseLoose(s string, c Currency) (Amount, error) {
	return parse(s, c, false)
}

// MustParse is Parse that panics on error; meant for tests and constants.
func MustParse(s string, c Currency) Amount {
	a, err := Parse(s, c)
	if err != nil {
		panic(err)
	}
	return a
}

func parse(s string, c Currency, strict bool) (Amount, error) {
	if c.IsZero() {
		return Amount{}, fmt.Errorf("%w: parsing %q without a currency", ErrInvalidCurrency, s)
	}
	d, err := parseDecimal(s, c.scale, strict)
	if err != nil {
		return Amount{}, fmt.Errorf("%w (%s)", err, c.code)
	}
	return fromDecimal(d, c), nil
}

// parseDecimal parses plain decimal notation into a decimal with exponent
// -max(scale, decimals). In strict mode, decimals beyond scale must be zeros and the
// result has exponent -scale.
func parseDecimal(s string, scale int32, strict bool) (decimal.Decimal, error) {
	if len(s) == 0 {
		return decimal.Decimal{}, fmt.Errorf("%w: empty", ErrInvalidAmount)
	}
	if len(s) > 2*maxDigits+2 {
		return decimal.Decimal{}, fmt.Errorf("%w: more than %d digits", ErrInvalidAmount, maxDigits)
	}
	body := s
	neg := false
	if body[0] == '-' {
		neg, body = true, body[1:]
	}
	intPart, frac := body, ""
	dot := -1
	for i := 0; i < len(body); i++ {
		ch := body[i]
		if ch == '.' {
			if dot >= 0 {
				return decimal.Decimal{}, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
			}
			dot = i
			continue
		}
		if ch < '0' || ch > '9' {
			return decimal.Decimal{}, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
		}
	}
	if dot >= 0 {
		intPart, frac = body[:dot], body[dot+1:]
		if frac == "" {
			return decimal.Decimal{}, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
		}
	}
	if intPart == "" {
		return decimal.Decimal{}, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
	}
	if len(intPart) > maxDigits || len(frac) > maxDigits {
		return decimal.Decimal{}, fmt.Errorf("%w: more than %d digits", ErrInvalidAmount, maxDigits)
	}
	if len(frac) > int(scale) {
		extra := frac[scale:]
		if strict {
			for i := 0; i < len(extra); i++ {
				if extra[i] != '0' {
					return decimal.Decimal{}, fmt.Errorf("%w: %q has more than %d decimals", ErrPrecision, s, scale)
				}
			}
			frac = frac[:scale]
		}
	}
	places := int32(len(frac))
	pad := int32(0)
	if places < scale {
		pad = scale - places
	}
	exp := -(places + pad)

	// Fast path: the coefficient fits comfortably in an int64.
	if n := len(intPart) + len(frac) + int(pad); n <= 18 {
		var v int64
		for i := 0; i < len(intPart); i++ {
			v = v*10 + int64(intPart[i]-'0')
		}
		for i := 0; i < len(frac); i++ {
			v = v*10 + int64(frac[i]-'0')
		}
		for i := int32(0); i < pad; i++ {
			v *= 10
		}
		if neg {
			v = -v
		}
		return decimal.New(v, exp), nil
	}
	digits := make([]byte, 0, len(intPart)+len(frac)+int(pad)+1)
	if neg {
		digits = append(digits, '-')
	}
	digits = append(digits, intPart...)
	digits = append(digits, frac...)
	for i := int32(0); i < pad; i++ {
		digits = append(digits, '0')
	}
	bi, ok := new(big.Int).SetString(string(digits), 10)
	if !ok { // unreachable: digits were checked above
		return decimal.Decimal{}, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
	}
	return decimal.NewFromBigInt(bi, exp), nil
}
