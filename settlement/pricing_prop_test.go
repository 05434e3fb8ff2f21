package settlement_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

var (
	genSKU      = rapid.SampledFrom([]string{"a", "b", "c", "d"})
	genCategory = rapid.SampledFrom([]string{"x", "y"})
	genMerchant = rapid.SampledFrom([]string{"m1", "m2", ""})
)

func genLine(t *rapid.T, id string) settlement.Line {
	return settlement.Line{
		ID:        id,
		SKU:       genSKU.Draw(t, "sku"),
		Category:  genCategory.Draw(t, "category"),
		Merchant:  genMerchant.Draw(t, "merchant"),
		UnitPrice: usd(rapid.Int64Range(0, 50000).Draw(t, "unit")),
		Quantity:  rapid.IntRange(1, 12).Draw(t, "qty"),
	}
}

func genCart(t *rapid.T) settlement.Cart {
	n := rapid.IntRange(1, 8).Draw(t, "lines")
	c := cartOf()
	for i := range n {
		c.Lines = append(c.Lines, genLine(t, fmt.Sprintf("L%d", i)))
	}
	if rapid.Bool().Draw(t, "shipping") {
		c.Shipping = usd(rapid.Int64Range(0, 2000).Draw(t, "fee"))
		c.ShippingMerchant = genMerchant.Draw(t, "shipper")
	}
	return c
}

func genPercent(t *rapid.T, label string) decimal.Decimal {
	// 0.5 .. 100.0 in steps of 0.5.
	return decimal.New(rapid.Int64Range(1, 200).Draw(t, label)*5, -1)
}

func genAmount(t *rapid.T, label string, lo, hi int64) money.Amount {
	return usd(rapid.Int64Range(lo, hi).Draw(t, label))
}

func genScope(t *rapid.T, label string) coupon.Scope {
	var s coupon.Scope
	switch rapid.IntRange(0, 3).Draw(t, label) {
	case 1:
		s.Categories = []string{genCategory.Draw(t, label+"cat")}
	case 2:
		s.SKUs = []string{genSKU.Draw(t, label+"sku"), genSKU.Draw(t, label+"sku2")}
	case 3:
		s.ExcludeSKUs = []string{genSKU.Draw(t, label+"ex")}
	}
	return s
}

var kinds = []coupon.Kind{coupon.KindPercentOff, coupon.KindAmountOff, coupon.KindThreshold,
	coupon.KindTiered, coupon.KindFreeShipping, coupon.KindBuyXGetY}

func genBenefit(t *rapid.T, kind coupon.Kind) coupon.Benefit {
	b := coupon.Benefit{Kind: kind, Currency: money.USD}
	switch kind {
	case coupon.KindPercentOff:
		b.Percent = genPercent(t, "percent")
	case coupon.KindAmountOff:
		b.Amount = genAmount(t, "amount", 1, 30000)
	case coupon.KindThreshold:
		b.Amount = genAmount(t, "amount", 1, 10000)
		b.MinSpend = genAmount(t, "min", 1, 50000)
		b.Repeat = rapid.Bool().Draw(t, "repeat")
	case coupon.KindTiered:
		b.TierBasis = rapid.SampledFrom([]coupon.TierBasis{coupon.TierBySpend, coupon.TierByQuantity}).Draw(t, "basis")
		n := rapid.IntRange(1, 3).Draw(t, "tiers")
		var last int64 // distinct minimums, in a drawn order
		for range n {
			step := rapid.Int64Range(1, 20000).Draw(t, "tierstep")
			if b.TierBasis == coupon.TierByQuantity {
				step = rapid.Int64Range(1, 5).Draw(t, "tierstep")
			}
			last += step
			tier := coupon.Tier{Min: last}
			if rapid.Bool().Draw(t, "tieroff") {
				tier.Off = genAmount(t, "off", 1, 10000)
			} else {
				tier.Percent = genPercent(t, "tierpct")
			}
			b.Tiers = append(b.Tiers, tier)
		}
		b.Tiers = rapid.Permutation(b.Tiers).Draw(t, "tierorder")
	case coupon.KindBuyXGetY:
		b.Buy = rapid.IntRange(1, 3).Draw(t, "buy")
		b.Get = rapid.IntRange(1, 2).Draw(t, "get")
		b.Percent = genPercent(t, "getpct")
		if rapid.Bool().Draw(t, "getscope") {
			s := genScope(t, "gs")
			b.GetScope = &s
		}
		b.MaxQuantity = rapid.IntRange(0, 3).Draw(t, "maxfree")
	}
	if kind == coupon.KindPercentOff || kind == coupon.KindAmountOff {
		b.Mode = rapid.SampledFrom([]coupon.Mode{"", coupon.ModeSpread, coupon.ModePerUnit, coupon.ModeOncePerOrder}).Draw(t, "mode")
		if b.Mode == coupon.ModePerUnit {
			b.MaxQuantity = rapid.IntRange(0, 5).Draw(t, "maxq")
		}
	}
	if rapid.IntRange(0, 3).Draw(t, "hascap") == 0 {
		b.Cap = genAmount(t, "cap", 1, 5000)
	}
	if kind != coupon.KindThreshold && rapid.IntRange(0, 3).Draw(t, "hasmin") == 0 {
		b.MinSpend = genAmount(t, "minspend", 1, 40000)
	}
	return b
}

func genOffer(t *rapid.T, id string) settlement.Offer {
	kind := rapid.SampledFrom(kinds).Draw(t, "kind")
	o := settlement.Offer{
		ID:      id,
		Source:  rapid.SampledFrom([]settlement.Source{settlement.SourcePromotion, settlement.SourceCoupon}).Draw(t, "source"),
		Benefit: genBenefit(t, kind),
		Scope:   genScope(t, "scope"),
		Stacking: coupon.Stacking{
			Group:        rapid.SampledFrom([]string{"", "", "g1", "g2"}).Draw(t, "group"),
			Exclusive:    rapid.IntRange(0, 5).Draw(t, "excl") == 0,
			Priority:     rapid.IntRange(0, 3).Draw(t, "prio"),
			OnDiscounted: rapid.Bool().Draw(t, "ondisc"),
		},
		Version: rapid.Int64Range(1, 9).Draw(t, "version"),
	}
	if o.Source == settlement.SourceCoupon {
		o.CouponID = "cp-" + id
	}
	switch rapid.IntRange(0, 2).Draw(t, "funding") {
	case 1:
		o.Funding = coupon.Funding{{Party: coupon.PartyMerchant, Ratio: decimal.NewFromInt(1)}}
	case 2:
		p := decimal.New(rapid.Int64Range(0, 1000).Draw(t, "ratio"), -3)
		o.Funding = coupon.Funding{
			{Party: coupon.PartyPlatform, Ratio: p},
			{Party: coupon.PartyMerchant, Ratio: decimal.NewFromInt(1).Sub(p)},
			{Party: "brand:acme", Ratio: decimal.Zero},
		}
	}
	if rapid.IntRange(0, 4).Draw(t, "hasbudget") == 0 {
		b := genAmount(t, "budget", 0, 3000)
		o.BudgetLeft = &b
	}
	return o
}

func genOffers(t *rapid.T, max int) []settlement.Offer {
	n := rapid.IntRange(0, max).Draw(t, "offers")
	out := make([]settlement.Offer, n)
	for i := range out {
		out[i] = genOffer(t, fmt.Sprintf("o%d", i))
	}
	return out
}

// TestPriceProperties: the quote invariants (checkQuote: total discount =
// sum of line discounts and shipping discount, 0 <= line discount <= line
// amount, final = subtotal - discounts + shipping - shipping discount,
// funders' shares sum to each part), and the same input gives the same
// output.
func TestPriceProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cart := genCart(rt)
		offers := genOffers(rt, 6)
		opts := settlement.Options{BestCombination: rapid.IntRange(0, 3).Draw(rt, "best") == 0}
		q, err := settlement.Price(cart, offers, opts)
		require.NoError(rt, err)
		checkQuote(rt, cart, q)
		require.Equal(rt, len(offers), len(q.Discounts)+len(q.Rejected))
		again, err := settlement.Price(cart, offers, opts)
		require.NoError(rt, err)
		require.Equal(rt, q, again)
	})
}

// TestPriceMonotone: adding a line in scope never lowers a percent or
// threshold discount (alone in the cart, so no stacking interferes).
func TestPriceMonotone(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cart := genCart(rt)
		o := genOffer(rt, "o")
		o.Benefit = genBenefit(rt, rapid.SampledFrom([]coupon.Kind{coupon.KindPercentOff, coupon.KindThreshold}).Draw(rt, "kind"))
		before, err := settlement.Price(cart, []settlement.Offer{o}, settlement.Options{})
		require.NoError(rt, err)

		extra := genLine(rt, "extra")
		if !o.Scope.Matches(extra.SKU, extra.Category, extra.Merchant) {
			rt.Skip("extra line out of scope")
		}
		cart.Lines = append(cart.Lines, extra)
		after, err := settlement.Price(cart, []settlement.Offer{o}, settlement.Options{})
		require.NoError(rt, err)
		checkQuote(rt, cart, after)
		require.GreaterOrEqual(rt, minor(rt, after.Discount), minor(rt, before.Discount))
	})
}

// TestPriceBestNeverWorse: the exact best combination saves at least as
// much as pricing every coupon as given (that is one of the subsets it
// tries), and the greedy one at least as much as the best single coupon.
func TestPriceBestNeverWorse(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		cart := genCart(rt)
		offers := genOffers(rt, 6)
		plain, err := settlement.Price(cart, offers, settlement.Options{})
		require.NoError(rt, err)
		best, err := settlement.Price(cart, offers, settlement.Options{BestCombination: true})
		require.NoError(rt, err)
		checkQuote(rt, cart, best)
		require.GreaterOrEqual(rt, minor(rt, best.Discount), minor(rt, plain.Discount))

		greedy, err := settlement.Price(cart, offers, settlement.Options{BestCombination: true, ExactLimit: 1})
		require.NoError(rt, err)
		checkQuote(rt, cart, greedy)
		require.LessOrEqual(rt, minor(rt, greedy.Discount), minor(rt, best.Discount))
		var promos []settlement.Offer
		for _, o := range offers {
			if o.Source == settlement.SourcePromotion {
				promos = append(promos, o)
			}
		}
		for _, o := range offers {
			if o.Source != settlement.SourceCoupon {
				continue
			}
			single, err := settlement.Price(cart, append(promos[:len(promos):len(promos)], o), settlement.Options{})
			require.NoError(rt, err)
			if greedy.Search == settlement.SearchGreedy {
				require.GreaterOrEqual(rt, minor(rt, greedy.Discount), minor(rt, single.Discount))
			}
		}
	})
}
