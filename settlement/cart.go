package settlement

import (
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/rewardkit/rewardkit/money"
)

// Line is one line of a cart: Quantity units of one SKU at UnitPrice.
type Line struct {
	ID       string // unique in the cart, not empty
	SKU      string
	Category string
	Merchant string // the seller; resolves the "merchant" funding party
	// UnitPrice is the price of one unit in the cart's currency, not
	// negative, exact at the currency's scale.
	UnitPrice money.Amount
	Quantity  int // at least 1
	// TaxInclusive says UnitPrice includes tax. Pricing takes discounts off
	// the line amount as given either way and carries the flag into the
	// quote, so the host's tax step knows whether a discounted amount is
	// gross or net.
	TaxInclusive bool
}

// Cart is what Price prices.
type Cart struct {
	Currency money.Currency
	Lines    []Line
	// Shipping is the shipping fee; the zero Amount means none.
	Shipping money.Amount
	// ShippingMerchant is the party that ships; a shipping discount funded
	// by "merchant" is charged to it.
	ShippingMerchant string
}

// pline is a line in minor units.
type pline struct {
	amount int64 // unit * qty
	unit   int64
	qty    int64
}

// Validate reports every problem with the cart, joined: each wraps
// ErrInvalidCart (a zero currency, no lines, an empty or duplicate line ID, a
// negative or inexact price, a quantity below 1, an amount beyond int64
// minor units), or ErrCurrencyMismatch (a price or fee in another currency).
func (c Cart) Validate() error {
	_, _, err := c.convert(nil)
	return err
}

// convert checks the cart and returns its lines (appended to dst) and
// shipping fee in minor units. On failure it returns every problem joined.
func (c Cart) convert(dst []pline) ([]pline, int64, error) {
	var errs []error
	bad := func(err error) { errs = append(errs, err) }
	if c.Currency.IsZero() {
		bad(fmt.Errorf("%w: no currency", ErrInvalidCart))
	}
	if len(c.Lines) == 0 {
		bad(fmt.Errorf("%w: no lines", ErrInvalidCart))
	}
	var subtotal, units int64
	overflow := false
	var seen map[string]bool
	if len(c.Lines) > 64 {
		seen = make(map[string]bool, len(c.Lines))
	}
	var hashes [64]uint64 // of the line IDs, when there is no map
	for i := range c.Lines {
		l := &c.Lines[i]
		if l.ID == "" {
			bad(fmt.Errorf("%w: line %d has no ID", ErrInvalidCart, i))
		} else if dupLineID(c.Lines, i, seen, &hashes) {
			bad(fmt.Errorf("%w: duplicate line ID %q", ErrInvalidCart, l.ID))
		}
		if l.Quantity < 1 {
			bad(fmt.Errorf("%w: line %q: quantity %d, want at least 1", ErrInvalidCart, l.ID, l.Quantity))
		}
		unit, err := c.minor(l.UnitPrice, i)
		if err != nil {
			bad(err)
		}
		if err != nil || l.Quantity < 1 {
			dst = append(dst, pline{})
			continue
		}
		qty := int64(l.Quantity)
		hi, lo := bits.Mul64(uint64(unit), uint64(qty))
		if hi != 0 || lo > math.MaxInt64 {
			bad(fmt.Errorf("%w: line %q: amount: %w", ErrInvalidCart, l.ID, money.ErrOverflow))
			dst = append(dst, pline{})
			continue
		}
		amount := int64(lo)
		var ok1, ok2 bool
		subtotal, ok1 = addInt(subtotal, amount)
		units, ok2 = addInt(units, qty)
		overflow = overflow || !ok1 || !ok2
		dst = append(dst, pline{amount: amount, unit: unit, qty: qty})
	}
	var ship int64
	if !(c.Shipping.IsZero() && c.Shipping.Currency().IsZero()) {
		var err error
		if ship, err = c.minor(c.Shipping, -1); err != nil {
			bad(err)
		}
		var ok bool
		_, ok = addInt(subtotal, ship)
		overflow = overflow || !ok
	}
	if overflow {
		bad(fmt.Errorf("%w: cart total: %w", ErrInvalidCart, money.ErrOverflow))
	}
	return dst, ship, errors.Join(errs...)
}

// minor converts a price of the cart (the unit price of line i, or the
// shipping fee when i < 0) to minor units.
func (c Cart) minor(a money.Amount, i int) (int64, error) {
	if a.Currency() != c.Currency {
		what := c.describePrice(i)
		if c.Currency.IsZero() {
			return 0, fmt.Errorf("%w: %s: cart has no currency", ErrInvalidCart, what)
		}
		return 0, fmt.Errorf("%w: %s: %w", ErrCurrencyMismatch, what,
			&money.MismatchError{Op: "price", Left: c.Currency, Right: a.Currency()})
	}
	if a.IsNegative() {
		what := c.describePrice(i)
		return 0, fmt.Errorf("%w: %s %s is negative", ErrInvalidCart, what, a)
	}
	v, err := a.Minor()
	if err != nil {
		what := c.describePrice(i)
		return 0, fmt.Errorf("%w: %s: %w", ErrInvalidCart, what, err)
	}
	return v, nil
}

func (c Cart) describePrice(i int) string {
	if i < 0 {
		return "shipping fee"
	}
	return fmt.Sprintf("line %d (%q): unit price", i, c.Lines[i].ID)
}

// dupLineID reports whether line i repeats the ID of an earlier line; seen,
// when not nil, holds the IDs of the earlier lines (large carts), and
// otherwise hashes holds a hash of each earlier line's ID (an empty ID's
// is not used), so that IDs are compared only when their hashes are.
func dupLineID(lines []Line, i int, seen map[string]bool, hashes *[64]uint64) bool {
	id := lines[i].ID
	if seen != nil {
		dup := seen[id]
		seen[id] = true
		return dup
	}
	// FNV-1a.
	h := uint64(14695981039346656037)
	for x := 0; x < len(id); x++ {
		h = (h ^ uint64(id[x])) * 1099511628211
	}
	hashes[i] = h
	for j := range i {
		if hashes[j] == h && lines[j].ID == id {
			return true
		}
	}
	return false
}

func addInt(a, b int64) (int64, bool) {
	s := a + b
	return s, (s >= a) == (b >= 0)
}
