package coupon

import (
	"fmt"
	"math"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
)

// Cart is what a user is about to buy, as far as coupons care.
type Cart struct {
	Currency money.Currency
	Subtotal money.Amount // the lines' total before discounts
	Shipping money.Amount // the shipping fee; zero when none
	Lines    []Line
}

// Line is one cart line.
type Line struct {
	SKU      string
	Category string
	Merchant string
	Quantity int64
	Amount   money.Amount // the line's total (unit price times quantity)
}

// Validate reports ErrInvalidRequest for a cart without currency or with
// a negative quantity or amount, and ErrCurrencyMismatch for an amount in
// another currency.
func (c *Cart) Validate() error {
	if c.Currency.IsZero() {
		return fmt.Errorf("%w: cart without currency", ErrInvalidRequest)
	}
	if err := c.checkAmount("subtotal", -1, c.Subtotal, true); err != nil {
		return err
	}
	if err := c.checkAmount("shipping", -1, c.Shipping, true); err != nil {
		return err
	}
	for i, l := range c.Lines {
		if l.Quantity < 0 {
			return fmt.Errorf("%w: cart line %d has a negative quantity", ErrInvalidRequest, i)
		}
		if err := c.checkAmount("line", i, l.Amount, false); err != nil {
			return err
		}
	}
	return nil
}

// checkAmount checks one amount of the cart: what names it, with line's
// index when it is a line's (the name is formatted only for an error:
// Validate runs on every offer snapshot).
func (c *Cart) checkAmount(what string, line int, a money.Amount, optional bool) error {
	if optional && a.Currency().IsZero() && a.IsZero() {
		return nil
	}
	if a.Currency() != c.Currency {
		if line >= 0 {
			what = fmt.Sprintf("%s %d", what, line)
		}
		return fmt.Errorf("%w: cart %s is in %q, cart in %s", ErrCurrencyMismatch, what, a.Currency().Code(), c.Currency.Code())
	}
	if a.IsNegative() {
		if line >= 0 {
			what = fmt.Sprintf("%s %d", what, line)
		}
		return fmt.Errorf("%w: cart %s is negative", ErrInvalidRequest, what)
	}
	return nil
}

// eligible returns the amount and units of the lines in scope. The lines'
// amounts are added as integers of minor units, and the sum becomes an
// Amount once; a line with more decimals than the currency (or a sum
// beyond int64) takes the decimal way.
func (c *Cart) eligible(s Scope) (money.Amount, int64, error) {
	var sum, units int64
	exact := true
	for _, l := range c.Lines {
		if !s.Matches(l.SKU, l.Category, l.Merchant) {
			continue
		}
		units += l.Quantity
		if !exact {
			continue
		}
		v, err := l.Amount.Minor()
		if err != nil || l.Amount.Currency() != c.Currency || (v > 0 && sum > math.MaxInt64-v) || (v < 0 && sum < math.MinInt64-v) {
			exact = false
			continue
		}
		sum += v
	}
	if exact {
		return money.FromMinor(sum, c.Currency), units, nil
	}
	return c.eligibleDecimal(s, units)
}

// eligibleDecimal is eligible by decimal arithmetic.
func (c *Cart) eligibleDecimal(s Scope, units int64) (money.Amount, int64, error) {
	sum := money.Zero(c.Currency)
	for _, l := range c.Lines {
		if !s.Matches(l.SKU, l.Category, l.Merchant) {
			continue
		}
		var err error
		if sum, err = sum.Add(l.Amount); err != nil {
			return money.Amount{}, 0, err
		}
	}
	return sum, units, nil
}

// applicable reports why t cannot apply to the cart (ErrCurrencyMismatch,
// ErrNotApplicable), or the eligible amount and units.
func (c *Cart) applicable(t *Template) (money.Amount, int64, error) {
	b := &t.Benefit
	if c.Currency != b.Currency {
		return money.Amount{}, 0, fmt.Errorf("%w: cart in %s, template %s in %s", ErrCurrencyMismatch, c.Currency.Code(), t.ID, b.Currency.Code())
	}
	scope := t.Scope
	if b.Kind == KindGiftCard {
		scope = Scope{} // a tender pays for anything
	}
	amount, units, err := c.eligible(scope)
	if err != nil {
		return money.Amount{}, 0, err
	}
	if units == 0 && amount.IsZero() && b.Kind != KindGiftCard {
		return money.Amount{}, 0, fmt.Errorf("%w: no line in the scope of %s", ErrNotApplicable, t.ID)
	}
	if !b.MinSpend.IsZero() {
		if cmp, err := amount.Cmp(b.MinSpend); err != nil || cmp < 0 {
			return money.Amount{}, 0, fmt.Errorf("%w: %s needs a spend of %s, cart has %s in scope", ErrNotApplicable, t.ID, b.MinSpend, amount)
		}
	}
	switch b.Kind {
	case KindTiered:
		lowest := int64(-1)
		for _, tr := range b.Tiers {
			if lowest < 0 || tr.Min < lowest {
				lowest = tr.Min
			}
		}
		reached := units
		if b.TierBasis == TierBySpend {
			reached, err = amount.Minor()
			if err != nil {
				return money.Amount{}, 0, err
			}
		}
		if reached < lowest {
			return money.Amount{}, 0, fmt.Errorf("%w: %s: the lowest tier needs %d, cart has %d", ErrNotApplicable, t.ID, lowest, reached)
		}
	case KindBuyXGetY:
		if units < int64(b.Buy) {
			return money.Amount{}, 0, fmt.Errorf("%w: %s: buy %d, cart has %d in scope", ErrNotApplicable, t.ID, b.Buy, units)
		}
	case KindFreeShipping:
		if c.Shipping.IsZero() {
			return money.Amount{}, 0, fmt.Errorf("%w: %s: the cart has no shipping fee", ErrNotApplicable, t.ID)
		}
	}
	return amount, units, nil
}

// cartFacts returns f with the order and lines filled from the cart when
// the caller left them empty.
func cartFacts(f *rules.Facts, c *Cart) *rules.Facts {
	if c == nil {
		return f
	}
	if f.Order.Amount.Currency().IsZero() {
		f.Order.Amount = c.Subtotal
		if f.Order.Amount.Currency().IsZero() {
			f.Order.Amount = money.Zero(c.Currency)
		}
	}
	if f.Lines == nil {
		f.Lines = make([]rules.Line, len(c.Lines))
		for i, l := range c.Lines {
			f.Lines[i] = rules.Line{SKU: l.SKU, Category: l.Category, Quantity: l.Quantity, Amount: l.Amount}
		}
	}
	return f
}
