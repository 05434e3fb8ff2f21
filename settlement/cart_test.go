package settlement_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

func TestPriceInvalidCart(t *testing.T) {
	good := line("A", "a", "x", "m", 100, 1)
	with := func(mut func(*settlement.Line)) settlement.Cart {
		l := good
		mut(&l)
		return cartOf(l)
	}
	tests := []struct {
		name string
		cart settlement.Cart
		is   []error
	}{
		{"no currency", settlement.Cart{Lines: []settlement.Line{good}}, []error{settlement.ErrInvalidCart}},
		{"no lines", cartOf(), []error{settlement.ErrInvalidCart}},
		{"no ID", with(func(l *settlement.Line) { l.ID = "" }), []error{settlement.ErrInvalidCart}},
		{"duplicate ID", cartOf(good, good), []error{settlement.ErrInvalidCart}},
		{"negative price", with(func(l *settlement.Line) { l.UnitPrice = usd(-1) }), []error{settlement.ErrInvalidCart}},
		{"zero quantity", with(func(l *settlement.Line) { l.Quantity = 0 }), []error{settlement.ErrInvalidCart}},
		{"negative quantity", with(func(l *settlement.Line) { l.Quantity = -2 }), []error{settlement.ErrInvalidCart}},
		{"inexact price", with(func(l *settlement.Line) {
			l.UnitPrice = money.New(decimal.RequireFromString("1.005"), money.USD)
		}), []error{settlement.ErrInvalidCart, money.ErrPrecision}},
		{"overflow", with(func(l *settlement.Line) {
			l.UnitPrice, l.Quantity = usd(math.MaxInt64/2), 3
		}), []error{settlement.ErrInvalidCart, money.ErrOverflow}},
		{"line currency", with(func(l *settlement.Line) { l.UnitPrice = money.FromMinor(100, money.EUR) }),
			[]error{settlement.ErrCurrencyMismatch, money.ErrCurrencyMismatch}},
		{"shipping currency", func() settlement.Cart {
			c := cartOf(good)
			c.Shipping = money.FromMinor(100, money.JPY)
			return c
		}(), []error{settlement.ErrCurrencyMismatch}},
		{"negative shipping", func() settlement.Cart {
			c := cartOf(good)
			c.Shipping = usd(-5)
			return c
		}(), []error{settlement.ErrInvalidCart}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := settlement.Price(tt.cart, nil, settlement.Options{})
			require.Error(t, err)
			assert.Nil(t, q)
			for _, target := range tt.is {
				assert.ErrorIs(t, err, target)
			}
			assert.Equal(t, err, tt.cart.Validate())
		})
	}
	require.NoError(t, cartOf(good).Validate())

	// Every problem is reported, and the mismatch names both currencies.
	bad := cartOf(line("A", "a", "x", "m", 100, 0), settlement.Line{ID: "A", UnitPrice: money.FromMinor(1, money.EUR), Quantity: 1})
	err := bad.Validate()
	assert.ErrorIs(t, err, settlement.ErrInvalidCart)
	assert.ErrorIs(t, err, settlement.ErrCurrencyMismatch)
	var mm *money.MismatchError
	require.ErrorAs(t, err, &mm)
	assert.Equal(t, money.USD, mm.Left)
	assert.Equal(t, money.EUR, mm.Right)
	assert.Contains(t, err.Error(), `duplicate line ID "A"`)
	assert.Contains(t, err.Error(), "quantity 0")
}

func TestPriceInvalidOffer(t *testing.T) {
	cart := cartOf(line("A", "a", "x", "m", 100, 1))
	ok := promo("p", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(10)})
	inexact := money.New(decimal.RequireFromString("0.001"), money.USD)
	tests := []struct {
		name  string
		mut   func(*settlement.Offer)
		extra error
	}{
		{"no ID", func(o *settlement.Offer) { o.ID = "" }, nil},
		{"unknown source", func(o *settlement.Offer) { o.Source = "magic" }, nil},
		{"invalid benefit", func(o *settlement.Offer) { o.Benefit.Amount = usd(0) }, coupon.ErrInvalidBenefit},
		{"unknown kind", func(o *settlement.Offer) { o.Benefit.Kind = "mystery" }, coupon.ErrInvalidBenefit},
		{"funding", func(o *settlement.Offer) {
			o.Funding = coupon.Funding{{Party: "platform", Ratio: decimal.RequireFromString("0.9")}}
		}, coupon.ErrInvalidBenefit},
		{"inexact budget", func(o *settlement.Offer) { o.BudgetLeft = &inexact }, money.ErrPrecision},
		{"percent too precise", func(o *settlement.Offer) {
			o.Benefit = coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD,
				Percent: decimal.RequireFromString("33.33333333333333333333")}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.mut(&o)
			q, err := settlement.Price(cart, []settlement.Offer{o}, settlement.Options{})
			assert.Nil(t, q)
			assert.ErrorIs(t, err, settlement.ErrInvalidOffer)
			if tt.extra != nil {
				assert.ErrorIs(t, err, tt.extra)
			}
		})
	}
	_, err := settlement.Price(cart, []settlement.Offer{ok, ok}, settlement.Options{})
	assert.ErrorIs(t, err, settlement.ErrInvalidOffer)
	assert.Contains(t, err.Error(), `duplicate offer ID "p"`)

	for _, limit := range []int{-1, settlement.MaxExactLimit + 1} {
		_, err = settlement.Price(cart, nil, settlement.Options{BestCombination: true, ExactLimit: limit})
		assert.ErrorIs(t, err, settlement.ErrInvalidOptions)
	}
	assert.False(t, errors.Is(settlement.Options{ExactLimit: settlement.MaxExactLimit}.Validate(), settlement.ErrInvalidOptions))
}

func TestPriceDoesNotChangeInput(t *testing.T) {
	cart := threeLines()
	o := promo("p", coupon.Benefit{Kind: coupon.KindTiered, TierBasis: coupon.TierBySpend,
		Tiers: []coupon.Tier{{Min: 3000, Off: usd(300)}, {Min: 1000, Off: usd(100)}}})
	offers := []settlement.Offer{o}
	_, err := settlement.Price(cart, offers, settlement.Options{BestCombination: true})
	require.NoError(t, err)
	assert.Equal(t, threeLines(), cart)
	assert.Equal(t, int64(3000), offers[0].Benefit.Tiers[0].Min, "tiers keep their order")
}

func TestPriceLargeCart(t *testing.T) {
	// 70 lines of 1.00..70.00 (2485.00): 10% = 248.50, each line exactly a
	// tenth of its amount.
	var lines []settlement.Line
	for i := range 70 {
		lines = append(lines, line(fmt.Sprintf("L%d", i), "s", "x", "m", int64(i+1)*100, 1))
	}
	cart := cartOf(lines...)
	q := priceOK(t, cart, []settlement.Offer{promo("p", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("10")})}, settlement.Options{})
	assert.Equal(t, int64(24850), minor(t, q.Discount))
	for i, l := range q.Lines {
		assert.Equal(t, int64(i+1)*10, minor(t, l.Discount))
	}

	cart.Lines = append(cart.Lines, cart.Lines[65])
	_, err := settlement.Price(cart, nil, settlement.Options{})
	assert.ErrorIs(t, err, settlement.ErrInvalidCart)
	assert.Contains(t, err.Error(), `duplicate line ID "L65"`)
}

func TestPriceHugeAmountsSaturate(t *testing.T) {
	// A is 2 units of MaxInt64/4 minor units, B one of 1.00: an amount off
	// of MaxInt64/2 per unit wants 3 x that, which saturates at MaxInt64
	// instead of wrapping, and gives the whole subtotal.
	cart := cartOf(line("A", "a", "x", "m", math.MaxInt64/4, 2), line("B", "b", "x", "m", 100, 1))
	perUnit := promo("u", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(math.MaxInt64 / 2), Mode: coupon.ModePerUnit})
	q := priceOK(t, cart, []settlement.Offer{perUnit}, settlement.Options{})
	d := discountOf(t, q, "u")
	assert.Equal(t, int64(math.MaxInt64), minor(t, d.Wanted), "saturates")
	assert.Equal(t, minor(t, q.Subtotal), minor(t, d.Amount))
	assert.Equal(t, int64(0), minor(t, q.Total))
}
