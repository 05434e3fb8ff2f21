package coupon

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rewardkit/rewardkit/money"
)

// currencyJSON is a currency on the wire: its code and scale, so that
// currencies outside the ISO table round-trip too.
type currencyJSON struct {
	Code  string `json:"code"`
	Scale int32  `json:"scale"`
}

// benefitFields is Benefit without its methods, for encoding/json.
type benefitFields Benefit

type benefitWire struct {
	benefitFields
	Currency json.RawMessage `json:"currency"` // shadows benefitFields.Currency
}

// MarshalJSON writes the benefit with its currency as {"code","scale"}
// (money.Currency has no JSON form of its own). Amounts and percents keep
// their exact decimal text.
func (b Benefit) MarshalJSON() ([]byte, error) {
	cur, err := json.Marshal(currencyJSON{Code: b.Currency.Code(), Scale: b.Currency.Scale()})
	if err != nil {
		return nil, err
	}
	return json.Marshal(benefitWire{benefitFields: benefitFields(b), Currency: cur})
}

// UnmarshalJSON reads what MarshalJSON writes; the currency may also be a
// plain ISO 4217 code ("USD"). Errors wrap ErrInvalidBenefit (or
// money.ErrInvalidCurrency for a bad code or scale).
func (b *Benefit) UnmarshalJSON(data []byte) error {
	var w benefitWire
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidBenefit, err)
	}
	out := Benefit(w.benefitFields)
	raw := bytes.TrimSpace(w.Currency)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		out.Currency = money.Currency{}
	case raw[0] == '"':
		var code string
		if err := json.Unmarshal(raw, &code); err != nil {
			return fmt.Errorf("%w: currency: %w", ErrInvalidBenefit, err)
		}
		c, ok := money.ISO(code)
		if !ok {
			return fmt.Errorf("%w: currency %q is not an ISO code; give {\"code\",\"scale\"}", ErrInvalidBenefit, code)
		}
		out.Currency = c
	default:
		var cj currencyJSON
		if err := json.Unmarshal(raw, &cj); err != nil {
			return fmt.Errorf("%w: currency: %w", ErrInvalidBenefit, err)
		}
		c, err := money.NewCurrency(cj.Code, cj.Scale)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidBenefit, err)
		}
		out.Currency = c
	}
	*b = out
	return nil
}
