package settlement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/settlement"
)

// bestCart: A 100.00 toys, B 50.00 food, shipping 10.00.
func bestCart() settlement.Cart {
	c := cartOf(line("A", "a", "toys", "m1", 10000, 1), line("B", "b", "food", "m2", 5000, 1))
	c.Shipping = usd(1000)
	return c
}

func grouped(o settlement.Offer, g string) settlement.Offer { o.Stacking.Group = g; return o }
func exclusive(o settlement.Offer) settlement.Offer         { o.Stacking.Exclusive = true; return o }

func TestPriceBestCombination(t *testing.T) {
	c20 := grouped(coup("c20", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("20")}), "g") // 30.00
	c25 := grouped(coup("c25", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(2500)}), "g")   // 25.00
	ship := coup("ship", coupon.Benefit{Kind: coupon.KindFreeShipping})                               // 10.00
	excl := exclusive(coup("excl", coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct("40")}))  // 60.00
	big := coup("big", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(5000), MinSpend: usd(50000)})
	best := settlement.Options{BestCombination: true}

	t.Run("groups", func(t *testing.T) {
		// {c20, ship} = 30.00 + 10.00 beats {c25, ship} = 35.00; c20 and c25
		// share a group. big needs 500.00.
		q := priceOK(t, bestCart(), []settlement.Offer{c25, c20, ship, big}, best)
		assert.Equal(t, int64(4000), minor(t, q.Discount))
		assert.Equal(t, int64(3000), applied(q, "c20"))
		assert.Equal(t, int64(1000), applied(q, "ship"))
		r := rejection(t, q, "c25")
		assert.Equal(t, settlement.ReasonGroupTaken, r.Reason)
		assert.Equal(t, "c20", r.By)
		assert.Equal(t, settlement.ReasonBelowMinSpend, rejection(t, q, "big").Reason)
		assert.Equal(t, settlement.SearchExact, q.Search)
		// 4 candidates, 16 subsets, 4 hold both c20 and c25.
		assert.Equal(t, 12, q.Tried)
	})
	t.Run("exclusive wins alone", func(t *testing.T) {
		// {excl} = 60.00 beats {c20, ship} = 40.00.
		q := priceOK(t, bestCart(), []settlement.Offer{c20, ship, excl}, best)
		assert.Equal(t, int64(6000), minor(t, q.Discount))
		assert.Len(t, q.Discounts, 1)
		r := rejection(t, q, "ship")
		assert.Equal(t, settlement.ReasonExclusiveConflict, r.Reason)
		assert.Equal(t, "excl", r.By)
	})
	t.Run("plain pricing uses every coupon in priority order", func(t *testing.T) {
		// Without the search, c20 (ID order) applies and blocks excl.
		q := priceOK(t, bestCart(), []settlement.Offer{excl, c20}, settlement.Options{})
		assert.Equal(t, int64(3000), minor(t, q.Discount))
		assert.Equal(t, settlement.ReasonExclusiveConflict, rejection(t, q, "excl").Reason)
	})
	t.Run("ties go to fewer coupons", func(t *testing.T) {
		// {ten} = 10.00 = {fiveA, fiveB}; ten is exclusive.
		ten := exclusive(coup("ten", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(1000)}))
		fiveA := coup("fiveA", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(500)})
		fiveB := coup("fiveB", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(500)})
		q := priceOK(t, bestCart(), []settlement.Offer{fiveA, fiveB, ten}, best)
		assert.Equal(t, int64(1000), applied(q, "ten"))
		assert.Len(t, q.Discounts, 1)
	})
	t.Run("promotions always apply; a coupon that costs more than it gives is left out", func(t *testing.T) {
		// The promotion (20.00 off, group g, priority 1) applies unless the
		// coupon (5.00 off, group g, priority 0) takes the group first.
		p := grouped(promo("promo", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(2000)}), "g")
		p.Stacking.Priority = 1
		small := grouped(coup("small", coupon.Benefit{Kind: coupon.KindAmountOff, Amount: usd(500)}), "g")
		q := priceOK(t, bestCart(), []settlement.Offer{p, small}, best)
		assert.Equal(t, int64(2000), applied(q, "promo"))
		r := rejection(t, q, "small")
		assert.Equal(t, settlement.ReasonNotChosen, r.Reason)

		// Without the search the coupon takes the group.
		q = priceOK(t, bestCart(), []settlement.Offer{p, small}, settlement.Options{})
		assert.Equal(t, int64(500), applied(q, "small"))
		assert.Equal(t, settlement.ReasonGroupTaken, rejection(t, q, "promo").Reason)
	})
	t.Run("greedy beyond the exact limit", func(t *testing.T) {
		offers := []settlement.Offer{c25, c20, ship, big}
		q := priceOK(t, bestCart(), offers, settlement.Options{BestCombination: true, ExactLimit: 2})
		assert.Equal(t, settlement.SearchGreedy, q.Search)
		// Round 1 tries 4 (c20 30.00 wins), round 2 tries ship and big
		// (c25 conflicts; ship wins), round 3 tries big: no gain. 1+4+2+1.
		assert.Equal(t, 8, q.Tried)
		assert.LessOrEqual(t, q.Tried, 4*5/2+1)
		assert.Equal(t, int64(4000), minor(t, q.Discount))
	})
	t.Run("no candidates", func(t *testing.T) {
		q := priceOK(t, bestCart(), []settlement.Offer{promo("p", coupon.Benefit{Kind: coupon.KindFreeShipping})}, best)
		assert.Equal(t, int64(1000), minor(t, q.Discount))
		assert.Equal(t, settlement.SearchExact, q.Search)
	})
}

func TestPriceBestIsDeterministic(t *testing.T) {
	var offers []settlement.Offer
	for i, p := range []string{"5", "10", "15", "7", "12", "3", "9", "11"} {
		o := coup(string(rune('a'+i)), coupon.Benefit{Kind: coupon.KindPercentOff, Percent: pct(p)})
		o.Stacking.Group = []string{"x", "y", "z"}[i%3]
		o.Stacking.OnDiscounted = i%2 == 0
		offers = append(offers, o)
	}
	first, err := settlement.Price(bestCart(), offers, settlement.Options{BestCombination: true})
	require.NoError(t, err)
	for range 3 {
		again, err := settlement.Price(bestCart(), offers, settlement.Options{BestCombination: true})
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
	// One per group: x (a 5, d 7, g 9), y (b 10, e 12, h 11), z (c 15, f 3);
	// a, c, e, g work on what is left. In ID order on 150.00: c 22.50, then
	// {e 12% of 127.50 = 15.30, g 9% of 112.20 = 10.09}: 47.89, but
	// {g 9% of 127.50 = 11.47, h 11% of the original 150.00 = 16.50}: 50.47.
	var chosen []string
	for _, d := range first.Discounts {
		chosen = append(chosen, d.OfferID)
	}
	assert.ElementsMatch(t, []string{"c", "g", "h"}, chosen)
	assert.Equal(t, int64(5047), minor(t, first.Discount))
}
