package coupon

import (
	"fmt"

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
	check := func(what string, a money.Amount, optional bool) error {
		if optional && a.Currency().IsZero() && a.IsZero() {
			return nil
		}
		if a.Currency() != c.Currency {
			return fmt.Errorf("%w: cart %s is in %q, cart in %s", ErrCurrencyMismatch, what, a.Currency().Code(), c.Currency.Code())
		}
		if a.IsNegative() {
			return fmt.Errorf("%w: cart %s is negative", ErrInvalidRequest, what)
		}
		return nil
	}
	if err := check("subtotal", c.Subtotal, true); err != nil {
		return err
	}
	if err := check("shipping", c.Shipping, true); err != nil {
		return err
	}
	for i, l := range c.Lines {
		if l.Quantity < 0 {
			return fmt.Errorf("%w: cart line %d has a negative quantity", ErrInvalidRequest, i)
		}
		if err := check(fmt.Sprintf("line %d", i), l.Amount, false); err != nil {
			return err
		}
	}
	return nil
}

// eligible returns the amount and units of the lines in scope.
func (c *Cart) eligible(s Scope) (money.Amount, int64, error) {
	sum := money.Zero(c.Currency)
	var units int64
	for _, l := range c.Lines {
		if !s.Matches(l.SKU, l.Category, l.Merchant) {
			continue
		}
		var err error
		if sum, err = sum.Add(l.Amount); err != nil {
			return money.Amount{}, 0, err
		}
		units += l.Quantity
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
