package money

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// jsonAmount is the wire form: {"amount":"12.30","currency":"USD"}, plus "scale" for
// currencies outside the ISO table so that they round-trip without a registry.
type jsonAmount struct {
	Amount   json.RawMessage `json:"amount"`
	Currency string          `json:"currency"`
	Scale    *int32          `json:"scale,omitempty"`
}

// MarshalJSON writes {"amount":"12.30","currency":"USD"}; the amount is a string in
// plain decimal notation with at least the currency's scale of decimals. For a currency
// outside the ISO table it adds "scale" ({"amount":"120","currency":"POINTS","scale":0}).
// It returns an error wrapping ErrInvalidCurrency for an Amount without a currency.
func (a Amount) MarshalJSON() ([]byte, error) { return a.AppendJSON(make([]byte, 0, 48)) }

// AppendJSON appends what MarshalJSON writes to b, for encoders that build
// a document in one buffer. On error it returns b unchanged.
func (a Amount) AppendJSON(b []byte) ([]byte, error) {
	if a.cur.IsZero() {
		return b, fmt.Errorf("%w: cannot marshal an amount without a currency", ErrInvalidCurrency)
	}
	b = append(b, `{"amount":"`...)
	b = a.AppendFixed(b)
	b = append(b, `","currency":"`...)
	b = append(b, a.cur.code...) // validated: [A-Z0-9_] needs no escaping
	b = append(b, '"')
	if !a.cur.IsISO() {
		b = append(b, `,"scale":`...)
		b = strconv.AppendInt(b, int64(a.cur.scale), 10)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the form MarshalJSON writes. The currency resolves from the ISO
// table, or from "scale" when present (which must agree with the ISO table for ISO
// codes). "amount" is a string or a JSON number in plain decimal notation, read exactly
// and never through float64; decimals beyond the scale are kept (as ParseLoose does).
// JSON null leaves a unchanged. On error a is unchanged.
//
// It returns errors wrapping ErrInvalidAmount (malformed JSON or amount),
// ErrInvalidCurrency (bad code or scale) or ErrUnknownCurrency (a non-ISO code without
// "scale"; use Registry.UnmarshalAmount to resolve host assets).
func (a *Amount) UnmarshalJSON(data []byte) error {
	got, err := unmarshalAmount(data, nil)
	if err != nil {
		return err
	}
	if got != nil {
		*a = *got
	}
	return nil
}

// UnmarshalAmount decodes the JSON form of an Amount like Amount.UnmarshalJSON, but also
// resolves codes registered in r when "scale" is absent; when present, "scale" must
// match the registered currency. It returns the same errors as Amount.UnmarshalJSON.
func (r *Registry) UnmarshalAmount(data []byte) (Amount, error) {
	got, err := unmarshalAmount(data, r)
	if err != nil {
		return Amount{}, err
	}
	if got == nil {
		return Amount{}, fmt.Errorf("%w: null", ErrInvalidAmount)
	}
	return *got, nil
}

func unmarshalAmount(data []byte, r *Registry) (*Amount, error) {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, nil
	}
	var w jsonAmount
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAmount, err)
	}
	cur, err := resolveJSONCurrency(w.Currency, w.Scale, r)
	if err != nil {
		return nil, err
	}
	raw := bytes.TrimSpace(w.Amount)
	var text string
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return nil, fmt.Errorf("%w: missing \"amount\"", ErrInvalidAmount)
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidAmount, err)
		}
	default:
		// A JSON number: take its literal text (as json.Number would), never a float.
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, fmt.Errorf("%w: \"amount\" must be a string or number", ErrInvalidAmount)
		}
		text = n.String()
	}
	amt, err := ParseLoose(text, cur)
	if err != nil {
		return nil, err
	}
	return &amt, nil
}

func resolveJSONCurrency(code string, scale *int32, r *Registry) (Currency, error) {
	if code == "" {
		return Currency{}, fmt.Errorf("%w: missing \"currency\"", ErrInvalidCurrency)
	}
	if r != nil {
		if c, ok := r.custom[code]; ok {
			if scale != nil && *scale != c.scale {
				return Currency{}, fmt.Errorf("%w: %s has scale %d, not %d", ErrInvalidCurrency, code, c.scale, *scale)
			}
			return c, nil
		}
	}
	if scale != nil {
		return NewCurrency(code, *scale)
	}
	if c, ok := ISO(code); ok {
		return c, nil
	}
	if err := validCode(code); err != nil {
		return Currency{}, err
	}
	return Currency{}, fmt.Errorf("%w: %q (non-ISO codes need \"scale\")", ErrUnknownCurrency, code)
}
