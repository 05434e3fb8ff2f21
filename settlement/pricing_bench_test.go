package settlement_test

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/settlement"
)

// benchCart is 20 lines over 4 categories and 3 merchants, with shipping.
func benchCart() settlement.Cart {
	c := cartOf()
	for i := range 20 {
		c.Lines = append(c.Lines, line(fmt.Sprintf("L%02d", i), fmt.Sprintf("sku%d", i%7),
			[]string{"toys", "food", "home", "books"}[i%4], []string{"m1", "m2", "m3"}[i%3],
			int64(199+i*731%9000), 1+i%4))
	}
	c.Shipping, c.ShippingMerchant = usd(899), "m1"
	return c
}

// benchOffers returns 10 offers, one of each kind and mode plus stacking, the
// last coupons of them SourceCoupon.
func benchOffers(coupons int) []settlement.Offer {
	split := coupon.Funding{
		{Party: coupon.PartyPlatform, Ratio: decimal.RequireFromString("0.6")},
		{Party: coupon.PartyMerchant, Ratio: decimal.RequireFromString("0.4")},
	}
	offers := []settlement.Offer{
		promo("pct-toys", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("10")}),
		promo("per-unit", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("15"), Mode: coupon.ModePerUnit, MaxQuantity: 5}),
		promo("amount", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(500)}),
		promo("threshold", coupon.Benefit{Kind: coupon.KindThreshold, Amount: usd(1000), MinSpend: usd(10000), Repeat: true}),
		promo("tiered", coupon.Benefit{Kind: coupon.KindTiered, TierBasis: coupon.TierBySpend,
			Tiers: []coupon.Tier{{Min: 5000, Off: usd(300)}, {Min: 20000, Percent: pct("5")}}}),
		promo("ship", coupon.Benefit{Kind: coupon.KindFreeShipping, MinSpend: usd(5000)}),
		promo("b2g1", coupon.Benefit{Kind: coupon.KindBuyXGetY, Buy: 2, Get: 1, Percent: pct("100")}),
		promo("once", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("30"), Mode: coupon.ModeOncePerOrder}),
		promo("capped", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("20"), Cap: usd(1500)}),
		promo("excl", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(4000)}),
	}
	offers[0].Scope.Categories = []string{"toys"}
	offers[6].Scope.Categories = []string{"books"}
	offers[9].Stacking.Exclusive = true
	for i := range offers {
		o := &offers[i]
		o.Stacking.Priority = i % 3
		o.Stacking.OnDiscounted = i%2 == 0
		if i%4 == 1 {
			o.Stacking.Group = "store"
		}
		if i%3 == 0 {
			o.Funding = split
		}
		if i >= len(offers)-coupons {
			o.Source, o.CouponID = settlement.SourceCoupon, "cp-"+o.ID
		}
	}
	return offers
}

func BenchmarkPrice(b *testing.B) {
	cart, offers := benchCart(), benchOffers(3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := settlement.Price(cart, offers, settlement.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPriceBest: 8 coupons (256 subsets before group and exclusivity
// pruning) and 2 promotions.
func BenchmarkPriceBest(b *testing.B) {
	cart, offers := benchCart(), benchOffers(8)
	opts := settlement.Options{BestCombination: true}
	b.ReportAllocs()
	var q *settlement.Quote
	for b.Loop() {
		var err error
		if q, err = settlement.Price(cart, offers, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(q.Tried), "subsets")
}

// BenchmarkPriceBestGreedy: 16 coupons searched greedily.
func BenchmarkPriceBestGreedy(b *testing.B) {
	cart := benchCart()
	offers := append(benchOffers(10), benchOffers(10)...)
	for i := 10; i < 20; i++ {
		offers[i].ID += "-2"
		offers[i].CouponID += "-2"
	}
	opts := settlement.Options{BestCombination: true, ExactLimit: 8}
	b.ReportAllocs()
	var q *settlement.Quote
	for b.Loop() {
		var err error
		if q, err = settlement.Price(cart, offers, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(q.Tried), "subsets")
}

func TestBenchOffersApply(t *testing.T) {
	// The benchmark should exercise real work: most offers apply.
	q := priceOK(t, benchCart(), benchOffers(3), settlement.Options{})
	if len(q.Discounts) < 6 {
		t.Fatalf("only %d offers apply: %+v", len(q.Discounts), q.Rejected)
	}
	q = priceOK(t, benchCart(), benchOffers(8), settlement.Options{BestCombination: true})
	if len(q.Discounts) < 4 {
		t.Fatalf("only %d offers apply: %+v", len(q.Discounts), q.Rejected)
	}
}
