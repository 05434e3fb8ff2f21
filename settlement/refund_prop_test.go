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

// TestRefundProperties: refunding every unit of an order, line by line in
// any order and any partial quantities, before or after completion,
// returns exactly what was paid (per line, per tender and in all), leaves
// every party's payable account and the clearing account at zero, so the
// funders' shares tie out, and reconciles.
func TestRefundProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		e := newEnv(t, nil)
		percent := rapid.IntRange(1, 60).Draw(rt, "percent")
		platformShare := rapid.IntRange(0, 100).Draw(rt, "platformShare")
		_, err := e.cps.CreateTemplate(e.ctx, coupon.Template{Tenant: shop, ID: "promo", Auto: true,
			Benefit:  coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, MinSpend: dollars("20"), Amount: dollars("3")},
			Funding:  coupon.Funding{{Party: "brand:acme", Ratio: decimal.NewFromInt(1)}},
			Validity: validity()})
		require.NoError(rt, err)
		_, err = e.cps.CreateTemplate(e.ctx, coupon.Template{Tenant: shop, ID: "pct", Stacking: coupon.Stacking{Priority: 2, OnDiscounted: rapid.Bool().Draw(rt, "seq")},
			Benefit: coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(int64(percent))},
			Funding: coupon.Funding{{Party: coupon.PartyPlatform, Ratio: decimal.New(int64(platformShare), -2)},
				{Party: coupon.PartyMerchant, Ratio: decimal.New(int64(100-platformShare), -2)}},
			Validity: validity(), Refund: coupon.RefundRestore})
		require.NoError(rt, err)
		c, err := e.cps.Claim(e.ctx, coupon.ClaimRequest{Tenant: shop, TemplateID: "pct", UserID: "u"})
		require.NoError(rt, err)

		n := rapid.IntRange(1, 4).Draw(rt, "lines")
		cart := settlement.Cart{Currency: money.USD}
		for i := range n {
			cart.Lines = append(cart.Lines, settlement.Line{ID: fmt.Sprintf("l%d", i), SKU: fmt.Sprintf("s%d", i),
				Merchant:  rapid.SampledFrom([]string{"m1", "m2"}).Draw(rt, "merchant"),
				UnitPrice: money.FromMinor(rapid.Int64Range(0, 5000).Draw(rt, "price"), money.USD),
				Quantity:  rapid.IntRange(1, 6).Draw(rt, "qty")})
		}
		if ship := rapid.Int64Range(0, 900).Draw(rt, "ship"); ship > 0 {
			cart.Shipping, cart.ShippingMerchant = money.FromMinor(ship, money.USD), "m1"
		}
		offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "u", Cart: cart, CouponIDs: []string{c.ID}})
		require.NoError(rt, err)
		q, err := settlement.Price(cart, offers, settlement.Options{})
		require.NoError(rt, err)
		total := minorOf(t, q.Total)
		card := rapid.Int64Range(0, total).Draw(rt, "card")
		req := settlement.CreateRequest{Tenant: shop, OrderID: "o", UserID: "u", Channel: "web", Cart: cart, Offers: offers}
		if card > 0 {
			e.fundGiftCard("gc", money.FromMinor(card+100, money.USD))
			req.GiftCards = []settlement.GiftCard{{Account: "gc", Amount: money.FromMinor(card, money.USD)}}
		}
		o, err := e.svc.CreateOrder(e.ctx, req)
		require.NoError(rt, err)
		o, err = e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o", PaymentRef: "p", Amount: o.Tenders[0].Amount})
		require.NoError(rt, err)

		// refund steps, completing the order at a random point
		left := map[string]int{}
		var ids []string
		for _, l := range o.Lines {
			left[l.ID] = l.Quantity
			ids = append(ids, l.ID)
		}
		completeAfter := rapid.IntRange(-1, 8).Draw(rt, "completeAfter")
		complete := func() {
			_, err := e.svc.Fulfil(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o"})
			require.NoError(rt, err)
			o, err := e.svc.Complete(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o"})
			require.NoError(rt, err)
			// what the parties hold is exactly what is not refunded yet
			var held int64
			for _, p := range partiesOf(o) {
				held += minorOf(t, e.balance(settlement.PayableAccount(p)))
			}
			require.Equal(rt, minorOf(t, o.Total)-minorOf(t, o.Refunded), held)
			// with no refund yet, each party holds its whole share; a refund of
			// a line whose net is zero refunds nothing but still takes the
			// line's units out of clearing, so it is the refunds that count,
			// not the amount refunded
			if len(o.Refunds) == 0 {
				for p, v := range expectedShares(t, o, testSplit()) {
					require.Equal(rt, v, minorOf(t, e.balance(settlement.PayableAccount(p))), p)
				}
			}
		}
		step := 0
		var refunded int64
		for {
			var open []string
			for _, id := range ids {
				if left[id] > 0 {
					open = append(open, id)
				}
			}
			if len(open) == 0 {
				break
			}
			if step == completeAfter {
				complete()
			}
			var items []settlement.RefundItem
			for _, id := range open {
				if rapid.Bool().Draw(rt, "pick") || len(items) == 0 && id == open[len(open)-1] {
					qty := rapid.IntRange(1, left[id]).Draw(rt, "refundQty")
					items = append(items, settlement.RefundItem{LineID: id, Quantity: qty})
					left[id] -= qty
				}
			}
			step++
			o, err = e.svc.Refund(e.ctx, settlement.RefundRequest{Tenant: shop, OrderID: "o", Key: fmt.Sprintf("r%d", step), Items: items})
			require.NoError(rt, err)
			refunded += minorOf(t, o.Refunds[len(o.Refunds)-1].Amount)
		}
		require.Equal(rt, settlement.StateRefunded, o.State)
		require.Equal(rt, total, refunded, "everything paid came back")
		require.Equal(rt, total, minorOf(t, o.Refunded))
		for _, l := range o.Lines {
			require.True(rt, l.RefundedAmount.Equal(l.Net), "line %s: refunded %s, net %s", l.ID, l.RefundedAmount, l.Net)
		}
		for i, tn := range o.Tenders {
			require.True(rt, tn.Refunded.Equal(tn.Amount), "tender %d: refunded %s of %s", i, tn.Refunded, tn.Amount)
		}
		require.True(rt, e.balance(settlement.ClearingAccount).IsZero())
		for _, p := range partiesOf(o) {
			require.True(rt, e.balance(settlement.PayableAccount(p)).IsZero(), "party %s keeps %s", p, e.balance(settlement.PayableAccount(p)))
		}
		if card > 0 {
			require.Equal(rt, card+100, minorOf(t, e.balance("gc")), "the gift card is whole again")
		}
		cp, err := e.cps.Coupon(e.ctx, shop, c.ID)
		require.NoError(rt, err)
		if len(o.Coupons) > 0 {
			require.Equal(rt, coupon.StateActivated, cp.State, "restored by the template's refund policy")
		}
		rep, err := e.svc.Reconcile(e.ctx, shop)
		require.NoError(rt, err)
		require.True(rt, rep.OK(), "%v", rep.Mismatches)
	})
}

func partiesOf(o settlement.Order) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, l := range o.Lines {
		add("platform")
		add("merchant:" + l.Merchant)
		add("channel:" + o.Channel)
		for _, f := range l.Funding {
			add(f.Party)
		}
	}
	return out
}
