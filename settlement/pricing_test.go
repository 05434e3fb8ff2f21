package settlement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

// threeLines: A 10.00 x1, B 20.00 x2 (40.00), C 5.00 x3 (15.00): 65.00.
func threeLines() settlement.Cart {
	return cartOf(
		line("A", "a", "toys", "m1", 1000, 1),
		line("B", "b", "toys", "m2", 2000, 2),
		line("C", "c", "food", "m1", 500, 3),
	)
}

func TestPriceKinds(t *testing.T) {
	perUnit := func(b coupon.Benefit, max int) coupon.Benefit {
		b.Mode, b.MaxQuantity = coupon.ModePerUnit, max
		return b
	}
	tests := []struct {
		name   string
		cart   settlement.Cart
		offer  settlement.Offer
		wanted int64
		parts  map[string]int64 // cents per line
		limits []settlement.Limit
	}{{
		// 15% of 65.00 = 9.75; by 10:40:15 -> 1.50, 6.00, 2.25 exactly.
		name:   "percent spread",
		cart:   threeLines(),
		offer:  promo("p", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("15")}),
		wanted: 975, parts: map[string]int64{"A": 150, "B": 600, "C": 225},
	}, {
		// 10% of 100 x 0.99 = 99.00 is 9.90 on the line amount; rounding
		// each unit (0.099 -> 0.09) would drift to 9.00.
		name:   "percent on the line amount, no per-unit drift",
		cart:   cartOf(line("A", "a", "x", "m", 99, 100)),
		offer:  promo("p", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("10")}),
		wanted: 990, parts: map[string]int64{"A": 990},
	}, {
		// 12.5% of 19.99 = 2.49875, Down -> 2.49.
		name:   "percent rounds down",
		cart:   cartOf(line("A", "a", "x", "m", 1999, 1)),
		offer:  promo("p", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("12.5")}),
		wanted: 249, parts: map[string]int64{"A": 249},
	}, {
		// 20% of 65.00 = 13.00, capped at 10.00; by 10:40:15 in cents 153.85,
		// 615.38, 230.77: floors 153+615+230 = 998, the two cents left go to
		// the largest remainders (.85 A, .77 C) -> 1.54, 6.15, 2.31.
		name: "percent capped",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("20"),
			Cap: usd(1000)}),
		wanted: 1300, parts: map[string]int64{"A": 154, "B": 615, "C": 231},
		limits: []settlement.Limit{settlement.LimitCap},
	}, {
		// Scope food: only C (15.00); 10% = 1.50.
		name: "percent scoped",
		cart: threeLines(),
		offer: func() settlement.Offer {
			o := promo("p", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("10")})
			o.Scope = coupon.Scope{Categories: []string{"food"}}
			return o
		}(),
		wanted: 150, parts: map[string]int64{"C": 150},
	}, {
		// Per unit, at most 2 units, highest price first: 2 units of B
		// (40.00); 25% = 10.00.
		name:   "percent per unit, max 2",
		cart:   threeLines(),
		offer:  promo("p", perUnit(coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("25")}, 2)),
		wanted: 1000, parts: map[string]int64{"B": 1000},
	}, {
		// Max 4 units: B x2 (40.00), A x1 (10.00), C x1 (5.00) = 55.00; 25% =
		// 13.75 by 40:10:5 -> 10.00, 2.50, 1.25.
		name:   "percent per unit, max 4, partial line",
		cart:   threeLines(),
		offer:  promo("p", perUnit(coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("25")}, 4)),
		wanted: 1375, parts: map[string]int64{"A": 250, "B": 1000, "C": 125},
	}, {
		// Once per order: one unit of B, the highest price (20.00); 50% = 10.00.
		name: "percent once per order",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("50"),
			Mode: coupon.ModeOncePerOrder}),
		wanted: 1000, parts: map[string]int64{"B": 1000},
	}, {
		// 13.00 off 65.00 by 10:40:15 -> 2.00, 8.00, 3.00.
		name:   "amount spread",
		cart:   threeLines(),
		offer:  promo("p", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(1300)}),
		wanted: 1300, parts: map[string]int64{"A": 200, "B": 800, "C": 300},
	}, {
		// 20.00 off a scope holding only C (15.00): cut to 15.00.
		name: "amount above the eligible amount",
		cart: threeLines(),
		offer: func() settlement.Offer {
			o := promo("p", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(2000)})
			o.Scope = coupon.Scope{SKUs: []string{"c"}}
			return o
		}(),
		wanted: 2000, parts: map[string]int64{"C": 1500},
		limits: []settlement.Limit{settlement.LimitEligible},
	}, {
		// 6.00 off each unit, every unit: A 6.00, B 2 x 6.00, C 3 x min(6.00,
		// 5.00) = 15.00: wanted 6 x 6.00 = 36.00, gave 33.00.
		name:   "amount per unit, each unit at most its price",
		cart:   threeLines(),
		offer:  promo("p", perUnit(coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(600)}, 0)),
		wanted: 3600, parts: map[string]int64{"A": 600, "B": 1200, "C": 1500},
		limits: []settlement.Limit{settlement.LimitEligible},
	}, {
		// Spend 60 save 12 on 65.00 by 10:40:15 -> 1.846.., 7.384.., 2.769..:
		// floors 1.84, 7.38, 2.76 (11.98); remainders .6, .4, .9 -> C, A.
		name: "threshold",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindThreshold, Amount: usd(1200),
			MinSpend: usd(6000)}),
		wanted: 1200, parts: map[string]int64{"A": 185, "B": 738, "C": 277},
	}, {
		// Every full 30.00 of 65.00 saves 5.00: twice, 10.00 -> by 10:40:15
		// 1.538.., 6.153.., 2.307.. -> 1.54, 6.15, 2.31.
		name: "threshold repeating",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindThreshold, Amount: usd(500),
			MinSpend: usd(3000), Repeat: true}),
		wanted: 1000, parts: map[string]int64{"A": 154, "B": 615, "C": 231},
	}, {
		// Spend tiers 30 -> 3.00 off, 60 -> 8.00 off, 100 -> 20%: 65.00 reaches
		// 60: 8.00 by 10:40:15 -> 1.230.., 4.923.., 1.846.. -> 1.23, 4.92, 1.85.
		name: "tiered by spend",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindTiered, TierBasis: coupon.TierBySpend,
			Tiers: []coupon.Tier{{Min: 10000, Percent: pct("20")}, {Min: 3000, Off: usd(300)}, {Min: 6000, Off: usd(800)}}}),
		wanted: 800, parts: map[string]int64{"A": 123, "B": 492, "C": 185},
	}, {
		// Quantity tiers 3 units -> 5%, 6 units -> 10%: 6 units, 10% of 65.00 =
		// 6.50 by 10:40:15 -> 1.00, 4.00, 1.50.
		name: "tiered by quantity",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindTiered, TierBasis: coupon.TierByQuantity,
			Tiers: []coupon.Tier{{Min: 3, Percent: pct("5")}, {Min: 6, Percent: pct("10")}}}),
		wanted: 650, parts: map[string]int64{"A": 100, "B": 400, "C": 150},
	}, {
		// Buy 2 get 1 free over all 6 units: 2 sets, the 2 cheapest units (C,
		// C: 2 x 5.00) free.
		name: "buy 2 get 1 free",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindBuyXGetY, Buy: 2, Get: 1,
			Percent: pct("100")}),
		wanted: 1000, parts: map[string]int64{"C": 1000},
	}, {
		// Buy 1 toy, get 1 food unit half off: 3 toy units make 3 sets; 3 food
		// units (C) at 50% = 7.50.
		name: "buy toys get food half off",
		cart: threeLines(),
		offer: func() settlement.Offer {
			o := promo("p", coupon.Benefit{Kind: coupon.KindBuyXGetY, Buy: 1, Get: 1,
				Percent: pct("50"), GetScope: &coupon.Scope{Categories: []string{"food"}}})
			o.Scope = coupon.Scope{Categories: []string{"toys"}}
			return o
		}(),
		wanted: 750, parts: map[string]int64{"C": 750},
	}, {
		// Buy 1 get 1 free, at most 1 free unit: the cheapest, one C (5.00).
		name: "buy 1 get 1, at most one free",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindBuyXGetY, Buy: 1, Get: 1,
			Percent: pct("100"), MaxQuantity: 1}),
		wanted: 500, parts: map[string]int64{"C": 500},
	}, {
		// Buy 3 get 2 (same scope), 6 units of which C x3 cheapest: k=2 needs
		// 1 set of 3 from the other 4 units: ok; k=3 needs 2 sets from 3: no.
		// 2 x 5.00 free.
		name: "buy 3 get 2",
		cart: threeLines(),
		offer: promo("p", coupon.Benefit{Kind: coupon.KindBuyXGetY, Buy: 3, Get: 2,
			Percent: pct("100")}),
		wanted: 1000, parts: map[string]int64{"C": 1000},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := priceOK(t, tt.cart, []settlement.Offer{tt.offer}, settlement.Options{})
			d := discountOf(t, q, tt.offer.ID)
			assert.Equal(t, tt.wanted, minor(t, d.Wanted), "wanted")
			assert.Equal(t, tt.parts, partsOf(t, q, tt.offer.ID))
			assert.Equal(t, tt.limits, d.Limits)
			assert.Equal(t, tt.offer.Benefit.Kind, d.Kind)
		})
	}
}

func TestPriceFreeShipping(t *testing.T) {
	cart := threeLines()
	cart.Shipping = usd(800)
	free := promo("ship", coupon.Benefit{Kind: coupon.KindFreeShipping, MinSpend: usd(5000)})

	q := priceOK(t, cart, []settlement.Offer{free}, settlement.Options{})
	assert.Equal(t, map[string]int64{"": 800}, partsOf(t, q, "ship"))
	assert.Equal(t, int64(6500), minor(t, q.Total)) // 65.00 + 8.00 - 8.00

	capped := free
	capped.Benefit.Cap = usd(500)
	q = priceOK(t, cart, []settlement.Offer{capped}, settlement.Options{})
	d := discountOf(t, q, "ship")
	assert.Equal(t, int64(800), minor(t, d.Wanted))
	assert.Equal(t, int64(500), minor(t, d.Amount))
	assert.Equal(t, []settlement.Limit{settlement.LimitCap}, d.Limits)
	assert.Equal(t, int64(6800), minor(t, q.Total)) // 65.00 + 8.00 - 5.00

	// A second free shipping finds nothing left.
	again := free
	again.ID, again.Stacking.Priority = "ship2", 1
	q = priceOK(t, cart, []settlement.Offer{free, again}, settlement.Options{})
	assert.Equal(t, settlement.ReasonNothingToDiscount, rejection(t, q, "ship2").Reason)

	// Above min spend only over the scope: toys are 50.00, food 15.00.
	scoped := free
	scoped.Scope = coupon.Scope{Categories: []string{"food"}}
	q = priceOK(t, cart, []settlement.Offer{scoped}, settlement.Options{})
	r := rejection(t, q, "ship")
	assert.Equal(t, settlement.ReasonBelowMinSpend, r.Reason)
	assert.Equal(t, "eligible 15.00 USD is below the minimum spend 50.00 USD", r.Detail)

	cart.Shipping = money.Amount{}
	q = priceOK(t, cart, []settlement.Offer{free}, settlement.Options{})
	assert.Equal(t, settlement.ReasonNothingToDiscount, rejection(t, q, "ship").Reason)
}

func TestPriceRejections(t *testing.T) {
	cart := threeLines()
	tenOff := coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(1000)}
	eur := coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.EUR, Amount: money.FromMinor(1000, money.EUR)}
	budget0, budgetEUR := usd(0), money.FromMinor(500, money.EUR)
	withBudget := func(o settlement.Offer, b *money.Amount) settlement.Offer { o.BudgetLeft = b; return o }
	scoped := func(o settlement.Offer, s coupon.Scope) settlement.Offer { o.Scope = s; return o }
	tests := []struct {
		name   string
		offer  settlement.Offer
		reason settlement.Reason
		detail string
	}{
		{"currency", promo("x", eur), settlement.ReasonCurrencyMismatch, "benefit in EUR, cart in USD"},
		{"budget currency", withBudget(promo("x", tenOff), &budgetEUR), settlement.ReasonCurrencyMismatch, "budget in EUR, cart in USD"},
		{"budget exhausted", withBudget(promo("x", tenOff), &budget0), settlement.ReasonBudgetExhausted, "no budget left"},
		{"out of scope", scoped(promo("x", tenOff), coupon.Scope{SKUs: []string{"zz"}}), settlement.ReasonOutOfScope, "no line in scope"},
		{"excluded sku", scoped(promo("x", tenOff), coupon.Scope{SKUs: []string{"a"}, ExcludeSKUs: []string{"a"}}), settlement.ReasonOutOfScope, "no line in scope"},
		{"get scope", promo("x", coupon.Benefit{Kind: coupon.KindBuyXGetY, Buy: 1, Get: 1, Percent: pct("100"),
			GetScope: &coupon.Scope{Categories: []string{"none"}}}), settlement.ReasonOutOfScope, "no line in the get scope"},
		// Threshold counts only eligible lines: toys are 50.00.
		{"below min spend", scoped(promo("x", coupon.Benefit{Kind: coupon.KindThreshold, Amount: usd(500), MinSpend: usd(6000)}),
			coupon.Scope{Categories: []string{"toys"}}), settlement.ReasonBelowMinSpend,
			"eligible 50.00 USD is below the minimum spend 60.00 USD"},
		{"no tier", promo("x", coupon.Benefit{Kind: coupon.KindTiered, TierBasis: coupon.TierBySpend,
			Tiers: []coupon.Tier{{Min: 10000, Off: usd(500)}, {Min: 20000, Off: usd(1500)}}}),
			settlement.ReasonNoTierReached, "eligible 65.00 USD is below the lowest tier 100.00 USD"},
		{"no quantity tier", promo("x", coupon.Benefit{Kind: coupon.KindTiered, TierBasis: coupon.TierByQuantity,
			Tiers: []coupon.Tier{{Min: 10, Off: usd(500)}}}),
			settlement.ReasonNoTierReached, "6 eligible units are below the lowest tier of 10"},
		// Toys: A x1 + B x2 = 3 units; buy 3 get 1 needs 4.
		{"not enough units", scoped(promo("x", coupon.Benefit{Kind: coupon.KindBuyXGetY, Buy: 3, Get: 1, Percent: pct("100")}),
			coupon.Scope{Categories: []string{"toys"}}), settlement.ReasonNotEnoughUnits,
			"3 units in scope do not make a full set of buy 3 get 1"},
		{"gift card", promo("x", coupon.Benefit{Kind: coupon.KindGiftCard, Amount: usd(5000)}),
			settlement.ReasonNotADiscount, "gift_card is a tender, not a price discount"},
		// 0.05% of 10.00 = 0.005: rounds down to nothing.
		{"rounds to zero", scoped(promo("x", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("0.05")}),
			coupon.Scope{SKUs: []string{"a"}}), settlement.ReasonNothingToDiscount,
			"the discount rounds to zero or earlier discounts left nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := priceOK(t, cart, []settlement.Offer{tt.offer}, settlement.Options{})
			require.Empty(t, q.Discounts)
			r := rejection(t, q, "x")
			assert.Equal(t, tt.reason, r.Reason)
			assert.Equal(t, tt.detail, r.Detail)
			assert.Equal(t, int64(6500), minor(t, q.Total))
		})
	}
}

func TestPriceBudget(t *testing.T) {
	// 10% of 65.00 = 6.50 wanted; 3.00 of budget left; by 10:40:15 ->
	// 0.4615.., 1.846.., 0.6923.. -> 0.46, 1.85, 0.69.
	left := usd(300)
	o := promo("p", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("10")})
	o.BudgetLeft = &left
	q := priceOK(t, threeLines(), []settlement.Offer{o}, settlement.Options{})
	d := discountOf(t, q, "p")
	assert.Equal(t, int64(650), minor(t, d.Wanted))
	assert.Equal(t, int64(300), minor(t, d.Amount))
	assert.Equal(t, []settlement.Limit{settlement.LimitBudget}, d.Limits)
	assert.Equal(t, map[string]int64{"A": 46, "B": 185, "C": 69}, partsOf(t, q, "p"))

	// Cap 5.00 and budget 3.00: both cut.
	o.Benefit.Cap = usd(500)
	d = discountOf(t, priceOK(t, threeLines(), []settlement.Offer{o}, settlement.Options{}), "p")
	assert.Equal(t, []settlement.Limit{settlement.LimitCap, settlement.LimitBudget}, d.Limits)
	assert.Equal(t, int64(300), minor(t, d.Amount))
}

func TestPriceStacking(t *testing.T) {
	one := cartOf(line("A", "a", "x", "m", 10000, 1)) // 100.00
	ten := func(id string, prio int, onDiscounted bool) settlement.Offer {
		o := promo(id, coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("10")})
		o.Stacking = coupon.Stacking{Priority: prio, OnDiscounted: onDiscounted}
		return o
	}

	t.Run("on original amounts", func(t *testing.T) {
		// 10% of 100.00 twice: 10.00 + 10.00.
		q := priceOK(t, one, []settlement.Offer{ten("p1", 1, false), ten("p2", 2, false)}, settlement.Options{})
		assert.Equal(t, int64(1000), applied(q, "p1"))
		assert.Equal(t, int64(1000), applied(q, "p2"))
	})
	t.Run("on discounted amounts", func(t *testing.T) {
		// 10% of 100.00, then 10% of the 90.00 left: 10.00 + 9.00.
		q := priceOK(t, one, []settlement.Offer{ten("p2", 2, true), ten("p1", 1, false)}, settlement.Options{})
		assert.Equal(t, int64(1000), applied(q, "p1"))
		assert.Equal(t, int64(900), applied(q, "p2"))
		assert.Equal(t, "p1", q.Discounts[0].OfferID, "priority order")
	})
	t.Run("priority ties by ID", func(t *testing.T) {
		q := priceOK(t, one, []settlement.Offer{ten("b", 0, true), ten("a", 0, true)}, settlement.Options{})
		assert.Equal(t, int64(1000), applied(q, "a"))
		assert.Equal(t, int64(900), applied(q, "b"))
	})
	t.Run("no line below zero", func(t *testing.T) {
		// 80.00 off, then 50.00 off the original amount: only 20.00 is left.
		a := promo("a", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(8000)})
		b := promo("b", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(5000)})
		b.Stacking.Priority = 1
		q := priceOK(t, one, []settlement.Offer{a, b}, settlement.Options{})
		d := discountOf(t, q, "b")
		assert.Equal(t, int64(5000), minor(t, d.Wanted))
		assert.Equal(t, int64(2000), minor(t, d.Amount))
		assert.Equal(t, []settlement.Limit{settlement.LimitEligible}, d.Limits)
		assert.Equal(t, int64(0), minor(t, q.Total))
	})
	t.Run("spill to lines with room", func(t *testing.T) {
		// A 10.00 and B 10.00. First 9.00 off A only; then 10.00 off both,
		// computed on the original amounts: 5.00 each, but A has 1.00 left, so
		// A gets 1.00 and the other 4.00 goes to B (9.00).
		cart := cartOf(line("A", "a", "x", "m", 1000, 1), line("B", "b", "x", "m", 1000, 1))
		first := promo("first", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(900)})
		first.Scope.SKUs = []string{"a"}
		second := promo("second", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(1000)})
		second.Stacking.Priority = 1
		q := priceOK(t, cart, []settlement.Offer{first, second}, settlement.Options{})
		assert.Equal(t, map[string]int64{"A": 100, "B": 900}, partsOf(t, q, "second"))
	})
	t.Run("group", func(t *testing.T) {
		a, b := ten("a", 1, false), ten("b", 2, false)
		a.Stacking.Group, b.Stacking.Group = "store", "store"
		q := priceOK(t, one, []settlement.Offer{a, b}, settlement.Options{})
		assert.Equal(t, int64(1000), applied(q, "a"))
		r := rejection(t, q, "b")
		assert.Equal(t, settlement.ReasonGroupTaken, r.Reason)
		assert.Equal(t, "a", r.By)
		assert.Equal(t, `group "store" is taken by offer "a"`, r.Detail)
	})
	t.Run("group not taken by a rejected offer", func(t *testing.T) {
		a, b := ten("a", 1, false), ten("b", 2, false)
		a.Stacking.Group, b.Stacking.Group = "store", "store"
		a.Benefit.MinSpend = usd(50000)
		q := priceOK(t, one, []settlement.Offer{a, b}, settlement.Options{})
		assert.Equal(t, settlement.ReasonBelowMinSpend, rejection(t, q, "a").Reason)
		assert.Equal(t, int64(1000), applied(q, "b"))
	})
	t.Run("exclusive first", func(t *testing.T) {
		a, b := ten("a", 1, false), ten("b", 2, false)
		a.Stacking.Exclusive = true
		q := priceOK(t, one, []settlement.Offer{a, b}, settlement.Options{})
		assert.Equal(t, int64(1000), applied(q, "a"))
		r := rejection(t, q, "b")
		assert.Equal(t, settlement.ReasonExclusiveConflict, r.Reason)
		assert.Equal(t, `offer "a" is exclusive`, r.Detail)
	})
	t.Run("exclusive after another", func(t *testing.T) {
		a, b := ten("a", 1, false), ten("b", 2, false)
		b.Stacking.Exclusive = true
		q := priceOK(t, one, []settlement.Offer{a, b}, settlement.Options{})
		r := rejection(t, q, "b")
		assert.Equal(t, settlement.ReasonExclusiveConflict, r.Reason)
		assert.Equal(t, "a", r.By)
	})
	t.Run("duplicate coupon", func(t *testing.T) {
		a, b := coup("a", ten("", 0, false).Benefit), coup("b", ten("", 0, false).Benefit)
		b.CouponID = a.CouponID
		q := priceOK(t, one, []settlement.Offer{b, a}, settlement.Options{})
		assert.Equal(t, int64(1000), applied(q, "a"))
		r := rejection(t, q, "b")
		assert.Equal(t, settlement.ReasonDuplicateCoupon, r.Reason)
		assert.Equal(t, "a", r.By)
	})
}

func TestPriceFunding(t *testing.T) {
	// 10.00 off A (m1, 10.00) and B (m2, 30.00): 2.50 and 7.50. Platform
	// 0.7 and merchant 0.3: A 1.75/0.75, B 5.25/2.25. Shipping 5.00 is
	// shipped by m1: free shipping funded by the merchant goes to m1.
	cart := cartOf(line("A", "a", "x", "m1", 1000, 1), line("B", "b", "x", "m2", 3000, 1))
	cart.Shipping, cart.ShippingMerchant = usd(500), "m1"
	off := promo("off", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(1000)})
	off.Funding = coupon.Funding{
		{Party: coupon.PartyPlatform, Ratio: pct("0.7")},
		{Party: coupon.PartyMerchant, Ratio: pct("0.3")},
	}
	ship := promo("ship", coupon.Benefit{Kind: coupon.KindFreeShipping})
	ship.Funding = coupon.Funding{{Party: coupon.PartyMerchant, Ratio: pct("1")}}
	q := priceOK(t, cart, []settlement.Offer{off, ship}, settlement.Options{})

	funding := func(id string) map[string]map[string]int64 {
		out := map[string]map[string]int64{}
		for _, a := range discountOf(t, q, id).Allocations {
			out[a.LineID] = map[string]int64{}
			for _, f := range a.Funding {
				out[a.LineID][f.Party] = minor(t, f.Amount)
			}
		}
		return out
	}
	assert.Equal(t, map[string]map[string]int64{
		"A": {"platform": 175, "merchant:m1": 75},
		"B": {"platform": 525, "merchant:m2": 225},
	}, funding("off"))
	assert.Equal(t, map[string]map[string]int64{"": {"merchant:m1": 500}}, funding("ship"))

	// 0.01 split 1/3 : 2/3 style ratios still sums exactly: 0.5/0.5 of 1 cent.
	cent := cartOf(line("A", "a", "x", "m1", 1, 1))
	half := promo("half", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(1)})
	half.Funding = coupon.Funding{{Party: "brand:acme", Ratio: pct("0.5")}, {Party: coupon.PartyPlatform, Ratio: pct("0.5")}}
	q = priceOK(t, cent, []settlement.Offer{half}, settlement.Options{})
	assert.Equal(t, []settlement.FundingPart{{Party: "brand:acme", Amount: usd(1)}, {Party: "platform", Amount: usd(0)}},
		discountOf(t, q, "half").Allocations[0].Funding)
}

func TestPriceQuoteRecords(t *testing.T) {
	cart := threeLines()
	cart.Lines[0].TaxInclusive = true
	a := promo("a", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("10")})
	a.Version, a.TemplateID = 4, "tpl-1"
	b := coup("b", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(100), MinSpend: usd(100000)})
	b.Version = 9
	q := priceOK(t, cart, []settlement.Offer{b, a}, settlement.Options{})
	assert.Equal(t, []settlement.OfferVersion{{OfferID: "b", Version: 9}, {OfferID: "a", Version: 4}}, q.Versions)
	assert.True(t, q.Lines[0].TaxInclusive)
	assert.False(t, q.Lines[1].TaxInclusive)
	d := discountOf(t, q, "a")
	assert.Equal(t, "tpl-1", d.TemplateID)
	assert.Equal(t, settlement.SourcePromotion, d.Source)
	r := rejection(t, q, "b")
	assert.Equal(t, settlement.SourceCoupon, r.Source)
	assert.Equal(t, "cp-b", r.CouponID)
	assert.Equal(t, settlement.SearchNone, q.Search)
}
