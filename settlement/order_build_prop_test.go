package settlement_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

// TestCreateOrderMatchesQuote: CreateOrder builds the order straight from
// the pricing engine's minor units; every amount, line, discount and
// funding list equals what the Quote of Price says for the same cart and
// offers (the quote read the way an order is made of it).
func TestCreateOrderMatchesQuote(t *testing.T) {
	e := newEnv(t, func(c *settlement.Config) {
		c.Coupons, c.CouponStore = nil, nil
		c.Split = []settlement.Share{{Party: settlement.PartyPlatform, Ratio: pct("1")}}
	})
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		cart := genCart(rt)
		offers := genOffers(rt, 6)
		for i := range offers { // no coupon service: promotions only, without budgets to charge
			offers[i].Source, offers[i].CouponID, offers[i].BudgetLeft = settlement.SourcePromotion, "", nil
		}
		opts := settlement.Options{BestCombination: rapid.IntRange(0, 3).Draw(rt, "best") == 0}
		q, err := settlement.Price(cart, offers, opts)
		require.NoError(rt, err)
		n++
		o, err := e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: fmt.Sprintf("o%d", n), UserID: "u1",
			Cart: cart, Offers: offers, Options: opts})
		require.NoError(rt, err)

		sub, err := q.Subtotal.Add(q.Shipping)
		require.NoError(rt, err)
		require.True(rt, sub.Equal(o.Subtotal), "subtotal %s, quote %s", o.Subtotal, sub)
		require.True(rt, q.Discount.Equal(o.Discount))
		require.True(rt, q.Total.Equal(o.Total))
		require.True(rt, q.Total.Equal(o.Tenders[0].Amount))

		// lines: the quote's, then shipping; funding summed per party
		lineFunding := map[string][]settlement.FundingPart{}
		for _, d := range q.Discounts {
			for _, a := range d.Allocations {
				id := a.LineID
				if id == "" {
					id = settlement.ShippingLineID
				}
				lineFunding[id] = addParts(rt, lineFunding[id], a.Funding)
			}
		}
		want := len(q.Lines)
		if q.Shipping.IsPositive() {
			want++
		}
		require.Len(rt, o.Lines, want)
		for i, l := range o.Lines {
			if i < len(q.Lines) {
				ql := q.Lines[i]
				require.Equal(rt, ql.ID, l.ID)
				require.Equal(rt, cart.Lines[i].SKU, l.SKU)
				require.Equal(rt, ql.Quantity, l.Quantity)
				require.True(rt, ql.Amount.Equal(l.Amount) && ql.Discount.Equal(l.Discount) && ql.Final.Equal(l.Net), "line %s", l.ID)
			} else {
				require.Equal(rt, settlement.ShippingLineID, l.ID)
				require.True(rt, q.Shipping.Equal(l.Amount) && q.ShippingDiscount.Equal(l.Discount))
			}
			requireParts(rt, nonZero(lineFunding[l.ID]), l.Funding)
		}

		require.Len(rt, o.Discounts, len(q.Discounts))
		for i, d := range q.Discounts {
			od := o.Discounts[i]
			require.Equal(rt, d.OfferID, od.OfferID)
			require.Equal(rt, d.TemplateID, od.TemplateID)
			require.True(rt, d.Amount.Equal(od.Amount))
			requireParts(rt, d.ByParty(), od.Funding)
		}
		require.Empty(rt, o.Coupons)
	})
}

// addParts adds parts to sum by party, parties in first-seen order.
func addParts(t require.TestingT, sum, parts []settlement.FundingPart) []settlement.FundingPart {
	for _, p := range parts {
		found := false
		for i := range sum {
			if sum[i].Party == p.Party {
				v, err := sum[i].Amount.Add(p.Amount)
				require.NoError(t, err)
				sum[i].Amount, found = v, true
			}
		}
		if !found {
			sum = append(sum, p)
		}
	}
	return sum
}

func nonZero(parts []settlement.FundingPart) []settlement.FundingPart {
	var out []settlement.FundingPart
	for _, p := range parts {
		if !p.Amount.IsZero() {
			out = append(out, p)
		}
	}
	return out
}

func requireParts(t require.TestingT, want, got []settlement.FundingPart) {
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Party, got[i].Party)
		require.True(t, want[i].Amount.Equal(got[i].Amount), "%s: %s, want %s", want[i].Party, got[i].Amount, want[i].Amount)
		require.Equal(t, money.USD, got[i].Amount.Currency())
	}
}
