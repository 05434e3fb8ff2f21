package money

import "fmt"

// Registry resolves currency codes: the built-in ISO table plus the host's own assets
// (POINTS, STORED_VALUE, ...). It is immutable once built and safe for concurrent use.
// A nil *Registry resolves ISO codes only. There is no global registry: the host
// builds one and hands it to whatever needs to resolve codes.
type Registry struct {
	custom map[string]Currency
}

// NewRegistry returns a registry of the ISO table plus the given custom currencies.
// It returns an error wrapping ErrInvalidCurrency when a custom currency is the zero
// Currency, names an ISO code with another scale, or appears twice.
func NewRegistry(custom ...Currency) (*Registry, error) {
	r := &Registry{custom: make(map[string]Currency, len(custom))}
	for _, c := range custom {
		if c.IsZero() {
			return nil, fmt.Errorf("%w: zero currency in registry", ErrInvalidCurrency)
		}
		if s, ok := isoScale(c.code); ok && s != c.scale {
			return nil, fmt.Errorf("%w: %s conflicts with ISO scale %d", ErrInvalidCurrency, c.code, s)
		}
		if _, dup := r.custom[c.code]; dup {
			return nil, fmt.Errorf("%w: %s registered twice", ErrInvalidCurrency, c.code)
		}
		r.custom[c.code] = c
	}
	return r, nil
}

// Lookup returns the currency for code: a registered custom currency or an ISO one.
// It returns an error wrapping ErrUnknownCurrency when neither knows the code.
func (r *Registry) Lookup(code string) (Currency, error) {
	if r != nil {
		if c, ok := r.custom[code]; ok {
			return c, nil
		}
	}
	if c, ok := ISO(code); ok {
		return c, nil
	}
	return Currency{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, code)
}

// ParseAmount resolves code and parses value strictly in that currency (see Parse).
// It returns ErrUnknownCurrency, ErrInvalidAmount or ErrPrecision (wrapped).
func (r *Registry) ParseAmount(value, code string) (Amount, error) {
	c, err := r.Lookup(code)
	if err != nil {
		return Amount{}, err
	}
	return Parse(value, c)
}
