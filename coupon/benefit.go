package coupon

import (
	"errors"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/money"
)

// Kind is the sort of benefit a template grants.
type Kind string

// The kinds of benefit.
const (
	// KindPercentOff takes Percent off the eligible amount, at most Cap.
	KindPercentOff Kind = "percent_off"
	// KindAmountOff takes Amount off, never more than the eligible amount.
	KindAmountOff Kind = "amount_off"
	// KindThreshold takes Amount off once the eligible amount reaches
	// MinSpend (spend X save Y); with Repeat, once per full MinSpend.
	KindThreshold Kind = "threshold"
	// KindTiered takes the discount of the highest tier reached by the
	// eligible spend or quantity (TierBasis).
	KindTiered Kind = "tiered"
	// KindGiftCard is stored value (Amount is the initial balance) spent
	// over many orders as a tender, through ledger holds and captures. It
	// is not a price discount.
	KindGiftCard Kind = "gift_card"
	// KindFreeShipping takes the shipping fee off, at most Cap.
	KindFreeShipping Kind = "free_shipping"
	// KindBuyXGetY: for every Buy units in scope, Get units of GetScope
	// (cheapest first) are GetPercent off (100: free).
	KindBuyXGetY Kind = "buy_x_get_y"
)

// Mode says how a line-level discount is computed and applied.
type Mode string

// The application modes.
const (
	// ModeSpread (the default) computes the discount once on the eligible
	// subtotal and allocates it over the eligible lines in proportion to
	// their amounts.
	ModeSpread Mode = "spread"
	// ModePerUnit computes the discount for each eligible unit, up to
	// MaxQuantity units (highest unit price first; 0 means no limit).
	ModePerUnit Mode = "per_unit"
	// ModeOncePerOrder computes the discount on one unit: the eligible unit
	// with the highest price.
	ModeOncePerOrder Mode = "once_per_order"
)

// TierBasis says what a tier threshold counts.
type TierBasis string

// Tier bases.
const (
	TierBySpend    TierBasis = "spend"    // eligible amount
	TierByQuantity TierBasis = "quantity" // eligible units
)

// Tier is one step of a tiered discount: reaching Min (an amount in minor
// units for TierBySpend, units for TierByQuantity) grants Off, or Percent
// off when Off is zero.
type Tier struct {
	Min     int64           `json:"min"`
	Off     money.Amount    `json:"off,omitzero"`
	Percent decimal.Decimal `json:"percent,omitzero"`
}

// Benefit is what a template grants: the discount definition that pricing
// computes. Which fields matter depends on Kind.
type Benefit struct {
	Kind     Kind           `json:"kind"`
	Currency money.Currency `json:"currency"`
	// Percent off, 0 < Percent <= 100 (20 is 20% off; a "rate 0.8" coupon
	// is Percent 20): KindPercentOff, and KindBuyXGetY's GetPercent.
	Percent decimal.Decimal `json:"percent,omitzero"`
	// Amount off (KindAmountOff, KindThreshold) or initial balance
	// (KindGiftCard).
	Amount money.Amount `json:"amount,omitzero"`
	// Cap is the most the discount may give; zero means no cap.
	Cap money.Amount `json:"cap,omitzero"`
	// MinSpend is the eligible amount the discount needs (thresholds, and
	// a minimum for any kind).
	MinSpend money.Amount `json:"min_spend,omitzero"`
	// Repeat makes a threshold apply once per full MinSpend.
	Repeat bool `json:"repeat,omitempty"`
	// Tiers of KindTiered, any order; TierBasis says what Min counts.
	Tiers     []Tier    `json:"tiers,omitempty"`
	TierBasis TierBasis `json:"tier_basis,omitempty"`
	// Buy, Get and GetScope of KindBuyXGetY; GetScope nil means Scope.
	Buy      int    `json:"buy,omitempty"`
	Get      int    `json:"get,omitempty"`
	GetScope *Scope `json:"get_scope,omitempty"`
	// Mode and MaxQuantity for line-level discounts.
	Mode        Mode `json:"mode,omitempty"`
	MaxQuantity int  `json:"max_quantity,omitempty"`
}

// Scope says which lines a benefit applies to. Empty sets match every
// line; a line must match every non-empty set, and no Exclude SKU.
type Scope struct {
	SKUs        []string `json:"skus,omitempty"`
	Categories  []string `json:"categories,omitempty"`
	Merchants   []string `json:"merchants,omitempty"`
	ExcludeSKUs []string `json:"exclude_skus,omitempty"`
}

// Matches reports whether a line with this SKU, category and merchant is
// in scope.
func (s Scope) Matches(sku, category, merchant string) bool {
	if slices.Contains(s.ExcludeSKUs, sku) {
		return false
	}
	return (len(s.SKUs) == 0 || slices.Contains(s.SKUs, sku)) &&
		(len(s.Categories) == 0 || slices.Contains(s.Categories, category)) &&
		(len(s.Merchants) == 0 || slices.Contains(s.Merchants, merchant))
}

// Stacking says how a discount combines with others in one cart.
type Stacking struct {
	// Group: at most one discount of a non-empty group applies.
	Group string `json:"group,omitempty"`
	// Exclusive: when it applies, no other discount does.
	Exclusive bool `json:"exclusive,omitempty"`
	// Priority orders application: lower first; ties by ID.
	Priority int `json:"priority,omitempty"`
	// OnDiscounted computes the discount on what earlier discounts left
	// of the lines (sequential); otherwise on the original amounts.
	OnDiscounted bool `json:"on_discounted,omitempty"`
}

// Share is one funder's part of a discount.
type Share struct {
	Party string          `json:"party"` // "platform", "merchant" (the line's merchant), "brand:acme", "channel:app"
	Ratio decimal.Decimal `json:"ratio"` // parts of 1
}

// Funding says who pays for a discount. Ratios sum to exactly 1. Empty
// means the platform pays all.
type Funding []Share

// Party names with a meaning of their own in Funding.
const (
	PartyPlatform = "platform"
	PartyMerchant = "merchant" // resolved to the merchant of each line
)

// ErrInvalidBenefit reports a benefit, scope, stacking or funding that
// cannot be priced.
var ErrInvalidBenefit = errors.New("coupon: invalid benefit")

var hundred = decimal.NewFromInt(100)

// Validate reports every problem with b, each wrapping ErrInvalidBenefit.
func (b Benefit) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidBenefit, b.Kind, fmt.Sprintf(format, args...)))
	}
	if b.Currency.IsZero() {
		bad("no currency")
	}
	amount := func(name string, a money.Amount, required bool) {
		switch {
		case a.Currency().IsZero() && a.IsZero():
			if required {
				bad("%s is required", name)
			}
		case a.Currency() != b.Currency:
			bad("%s is in %s, not %s", name, a.Currency().Code(), b.Currency.Code())
		case a.IsNegative() || (required && a.IsZero()):
			bad("%s must be positive", name)
		case !a.IsExact():
			bad("%s has more decimals than %s allows", name, b.Currency.Code())
		}
	}
	percent := func(p decimal.Decimal) {
		if p.Sign() <= 0 || p.GreaterThan(hundred) {
			bad("percent must be in (0, 100], got %s", p)
		}
	}
	amount("cap", b.Cap, false)
	amount("min_spend", b.MinSpend, false)
	switch b.Kind {
	case KindPercentOff:
		percent(b.Percent)
	case KindAmountOff, KindGiftCard:
		amount("amount", b.Amount, true)
	case KindThreshold:
		amount("amount", b.Amount, true)
		amount("min_spend", b.MinSpend, true)
	case KindTiered:
		if len(b.Tiers) == 0 {
			bad("no tiers")
		}
		if b.TierBasis != TierBySpend && b.TierBasis != TierByQuantity {
			bad("tier_basis must be %q or %q", TierBySpend, TierByQuantity)
		}
		seen := map[int64]bool{}
		for _, t := range b.Tiers {
			if t.Min <= 0 || seen[t.Min] {
				bad("tier minimums must be positive and distinct, got %d", t.Min)
			}
			seen[t.Min] = true
			if t.Off.IsZero() {
				percent(t.Percent)
			} else {
				amount("tier off", t.Off, true)
			}
		}
	case KindFreeShipping:
	case KindBuyXGetY:
		if b.Buy <= 0 || b.Get <= 0 {
			bad("buy and get must be positive")
		}
		percent(b.Percent)
	default:
		bad("unknown kind")
	}
	switch b.Mode {
	case "", ModeSpread, ModePerUnit, ModeOncePerOrder:
	default:
		bad("unknown mode %q", b.Mode)
	}
	if b.MaxQuantity < 0 {
		bad("max_quantity must not be negative")
	}
	return errors.Join(errs...)
}

// Validate reports ErrInvalidBenefit unless the ratios are non-negative,
// name distinct parties and sum to exactly 1.
func (f Funding) Validate() error {
	if len(f) == 0 {
		return nil
	}
	sum := decimal.Zero
	seen := map[string]bool{}
	for _, s := range f {
		if s.Party == "" || seen[s.Party] {
			return fmt.Errorf("%w: funding parties must be named and distinct", ErrInvalidBenefit)
		}
		seen[s.Party] = true
		if s.Ratio.Sign() < 0 {
			return fmt.Errorf("%w: funding ratio of %s is negative", ErrInvalidBenefit, s.Party)
		}
		sum = sum.Add(s.Ratio)
	}
	if !sum.Equal(decimal.NewFromInt(1)) {
		return fmt.Errorf("%w: funding ratios sum to %s, not 1", ErrInvalidBenefit, sum)
	}
	return nil
}

// Shares returns the funding with the default (platform pays all) filled in.
func (f Funding) Shares() Funding {
	if len(f) == 0 {
		return Funding{{Party: PartyPlatform, Ratio: decimal.NewFromInt(1)}}
	}
	return f
}
