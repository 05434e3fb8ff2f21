package money

import "fmt"

// MaxScale is the largest minor-unit scale a Currency may have.
const MaxScale = 18

// Currency is a currency or asset code plus its minor-unit scale: USD has scale 2
// (cents), JPY 0, a loyalty asset such as POINTS typically 0. It is a small value type,
// comparable with ==; the zero Currency means "no currency" and is rejected wherever a
// real one is needed.
type Currency struct {
	code  string
	scale int32
}

// Convenience currencies from the built-in ISO 4217 table. Treat them as constants:
// this package never reassigns them, and neither should callers.
var (
	USD = Currency{"USD", 2}
	EUR = Currency{"EUR", 2}
	CNY = Currency{"CNY", 2}
	JPY = Currency{"JPY", 0}
	GBP = Currency{"GBP", 2}
)

// NewCurrency returns the currency with the given code and scale. The code must be
// 2 to 16 characters from [A-Z0-9_] and the scale 0..MaxScale. A code from the built-in
// ISO table must carry its ISO scale (USD is always 2), so that one code never means two
// things. It returns an error wrapping ErrInvalidCurrency otherwise.
func NewCurrency(code string, scale int32) (Currency, error) {
	if err := validCode(code); err != nil {
		return Currency{}, err
	}
	if scale < 0 || scale > MaxScale {
		return Currency{}, fmt.Errorf("%w: scale %d of %s outside 0..%d", ErrInvalidCurrency, scale, code, MaxScale)
	}
	if iso, ok := isoScale(code); ok && iso != scale {
		return Currency{}, fmt.Errorf("%w: %s is an ISO 4217 code with scale %d, not %d", ErrInvalidCurrency, code, iso, scale)
	}
	return Currency{code: code, scale: scale}, nil
}

// MustCurrency is NewCurrency that panics on error; meant for tests and
// package-level definitions.
func MustCurrency(code string, scale int32) Currency {
	c, err := NewCurrency(code, scale)
	if err != nil {
		panic(err)
	}
	return c
}

func validCode(code string) error {
	if len(code) < 2 || len(code) > 16 {
		return fmt.Errorf("%w: code %q must be 2 to 16 characters", ErrInvalidCurrency, code)
	}
	for i := 0; i < len(code); i++ {
		ch := code[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_') {
			return fmt.Errorf("%w: code %q may hold only A-Z, 0-9 and _", ErrInvalidCurrency, code)
		}
	}
	return nil
}

// Code returns the currency code, such as "USD" or "POINTS".
func (c Currency) Code() string { return c.code }

// Scale returns the number of minor-unit decimals: 2 for USD, 0 for JPY.
func (c Currency) Scale() int32 { return c.scale }

// IsZero reports whether c is the zero Currency (no currency).
func (c Currency) IsZero() bool { return c.code == "" }

// IsISO reports whether c is a currency of the built-in ISO 4217 table.
func (c Currency) IsISO() bool {
	s, ok := isoScale(c.code)
	return ok && s == c.scale
}

// String returns the currency code.
func (c Currency) String() string { return c.code }

func (c Currency) describe() string {
	if c.code == "" {
		return "<none>"
	}
	return c.code
}

// ISO looks the code up in the built-in, immutable table of common ISO 4217
// currencies and reports whether it was found.
func ISO(code string) (Currency, bool) {
	s, ok := isoScale(code)
	if !ok {
		return Currency{}, false
	}
	return Currency{code: code, scale: s}, true
}

// isoScale is the built-in table: common ISO 4217 codes and their minor units.
// A switch keeps it immutable.
func isoScale(code string) (int32, bool) {
	switch code {
	case "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "PYG", "XAF", "XOF", "XPF", "RWF", "KMF", "DJF", "GNF", "VUV", "BIF":
		return 0, true
	case "KWD", "BHD", "OMR", "JOD", "TND", "LYD", "IQD":
		return 3, true
	case "USD", "EUR", "GBP", "CNY", "HKD", "TWD", "SGD", "INR", "IDR", "THB", "MYR", "PHP",
		"AUD", "NZD", "CAD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "BRL", "MXN",
		"ARS", "COP", "ZAR", "AED", "SAR", "TRY", "RUB", "ILS", "EGP", "MOP", "PKR", "BDT",
		"LKR", "NGN", "KES", "UAH", "RON", "BGN", "PEN", "UYU", "QAR", "MAD", "KZT":
		return 2, true
	}
	return 0, false
}
