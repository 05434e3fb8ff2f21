package settlement_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

func TestTransitionTable(t *testing.T) {
	type tc struct {
		from settlement.OrderState
		ev   settlement.OrderEvent
		to   settlement.OrderState // "" : illegal
	}
	cases := []tc{
		{settlement.StateCreated, settlement.EventPay, settlement.StatePaid},
		{settlement.StateCreated, settlement.EventCancel, settlement.StateCancelled},
		{settlement.StatePaid, settlement.EventFulfil, settlement.StateFulfilled},
		{settlement.StateFulfilled, settlement.EventComplete, settlement.StateCompleted},
		{settlement.StatePaid, settlement.EventRefund, settlement.StateRefunding},
		{settlement.StateFulfilled, settlement.EventRefund, settlement.StateRefunding},
		{settlement.StateCompleted, settlement.EventRefund, settlement.StateRefunding},
		{settlement.StateRefunding, settlement.EventRefunded, settlement.StateRefunded},
		{settlement.StateRefunded, settlement.EventClose, settlement.StateClosed},
		{settlement.StateCompleted, settlement.EventClose, settlement.StateClosed},
		{settlement.StateCreated, settlement.EventRefund, ""},
		{settlement.StatePaid, settlement.EventCancel, ""},
		{settlement.StatePaid, settlement.EventPay, ""},
		{settlement.StatePaid, settlement.EventComplete, ""},
		{settlement.StateCancelled, settlement.EventPay, ""},
		{settlement.StateClosed, settlement.EventRefund, ""},
		{settlement.StateRefunded, settlement.EventRefund, ""},
		{settlement.StateCreated, "bogus", ""},
	}
	for _, c := range cases {
		got, err := settlement.Transition(c.from, c.ev)
		if c.to == "" {
			var te *settlement.TransitionError
			require.ErrorAs(t, err, &te, "%s on %s", c.ev, c.from)
			assert.ErrorIs(t, err, settlement.ErrIllegalTransition)
			assert.Equal(t, c.from, te.From)
			assert.Equal(t, c.from, got, "no change")
			continue
		}
		require.NoError(t, err, "%s on %s", c.ev, c.from)
		assert.Equal(t, c.to, got)
	}
	for _, s := range settlement.OrderStates() {
		assert.True(t, s.Valid())
	}
	assert.False(t, settlement.OrderState("PENDING").Valid())
}

// expectedShares recomputes, independently of the clearing code, what each
// party gets for a whole order: each line's gross split by the ratios
// (money.Split), less the discount each funder funds on the line.
func expectedShares(t *testing.T, o settlement.Order, split []settlement.Share) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	ratios := make([]decimal.Decimal, len(split))
	for i, s := range split {
		ratios[i] = s.Ratio
	}
	for _, l := range o.Lines {
		parts, err := money.Split(l.Amount, ratios)
		require.NoError(t, err)
		for i, s := range split {
			party := s.Party
			switch party {
			case settlement.PartyMerchant:
				party += ":" + l.Merchant
			case settlement.PartyChannel:
				party += ":" + o.Channel
			}
			out[party] += minorOf(t, parts[i])
		}
		for _, f := range l.Funding {
			out[f.Party] -= minorOf(t, f.Amount)
		}
	}
	return out
}

func minorOf(t testing.TB, a money.Amount) int64 {
	v, err := a.Minor()
	require.NoError(t, err)
	return v
}

func TestCheckoutLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(money.Amount{})
	c := e.claim("alice")
	e.fundGiftCard("giftcard:alice", dollars("100.00"))
	cart := fiveLines()

	offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: cart, CouponIDs: []string{c.ID}})
	require.NoError(t, err)
	require.Len(t, offers, 2, "the promotion and the coupon")
	req := settlement.CreateRequest{Tenant: shop, OrderID: "o1", UserID: "alice", Channel: "app", Cart: cart, Offers: offers,
		GiftCards: []settlement.GiftCard{{Account: "giftcard:alice", Amount: dollars("30.00")}}}
	o, err := e.svc.CreateOrder(e.ctx, req)
	require.NoError(t, err)
	assert.Equal(t, settlement.StateCreated, o.State)
	require.Len(t, o.Discounts, 2)
	require.Len(t, o.Lines, 6, "five lines and the shipping fee")
	// the order's amounts tie: lines' nets sum to the total, tenders too
	nets := money.Zero(money.USD)
	for _, l := range o.Lines {
		nets, _ = nets.Add(l.Net)
		fund := money.Zero(money.USD)
		for _, f := range l.Funding {
			fund, _ = fund.Add(f.Amount)
		}
		assert.True(t, fund.Equal(l.Discount), "line %s funding sums to its discount", l.ID)
	}
	assert.True(t, nets.Equal(o.Total))
	tenders, _ := o.Tenders[0].Amount.Add(o.Tenders[1].Amount)
	assert.True(t, tenders.Equal(o.Total))
	assert.True(t, o.Tenders[1].Amount.Equal(dollars("30.00")))

	cp, err := e.cps.Coupon(e.ctx, shop, c.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateLocked, cp.State)
	assert.True(t, e.available("giftcard:alice").Equal(dollars("70.00")), "held")
	assert.True(t, e.balance("giftcard:alice").Equal(dollars("100.00")))

	again, err := e.svc.CreateOrder(e.ctx, req)
	require.NoError(t, err, "same request: replay")
	assert.Equal(t, o.Version, again.Version)
	other := req
	other.Cart.Lines = other.Cart.Lines[:4]
	_, err = e.svc.CreateOrder(e.ctx, other)
	assert.ErrorIs(t, err, settlement.ErrOrderMismatch)
	assert.ErrorIs(t, err, storage.ErrIdempotencyMismatch)

	_, err = e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "p1", Amount: dollars("1.00")})
	assert.ErrorIs(t, err, settlement.ErrAmountMismatch)
	pay := settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "p1", Amount: o.Tenders[0].Amount}
	o, err = e.svc.Pay(e.ctx, pay)
	require.NoError(t, err)
	assert.Equal(t, settlement.StatePaid, o.State)
	o2, err := e.svc.Pay(e.ctx, pay)
	require.NoError(t, err, "retried confirmation")
	assert.Equal(t, o.Version, o2.Version)
	_, err = e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "p2", Amount: o.Tenders[0].Amount})
	assert.ErrorIs(t, err, settlement.ErrIllegalTransition, "paid with another reference")
	assert.True(t, e.balance(settlement.ClearingAccount).Equal(o.Total), "everything paid sits in clearing")
	assert.True(t, e.balance("giftcard:alice").Equal(dollars("70.00")))
	cp, err = e.cps.Coupon(e.ctx, shop, c.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateUsed, cp.State)

	_, err = e.svc.Complete(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1"})
	assert.ErrorIs(t, err, settlement.ErrIllegalTransition, "not fulfilled")
	_, err = e.svc.Fulfil(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1"})
	require.NoError(t, err)
	o, err = e.svc.Complete(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1"})
	require.NoError(t, err)
	assert.Equal(t, settlement.StateCompleted, o.State)
	assert.True(t, e.balance(settlement.ClearingAccount).IsZero(), "cleared")
	want := expectedShares(t, o, testSplit())
	sum := int64(0)
	for party, v := range want {
		assert.Equal(t, v, minorOf(t, e.balance(settlement.PayableAccount(party))), party)
		sum += v
	}
	assert.Equal(t, minorOf(t, o.Total), sum, "the parties get exactly what was paid")
	assert.Less(t, want["platform"], int64(0), "the platform funds more discount than its 10% of this cart")

	rep, err := e.svc.Reconcile(e.ctx, shop)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Mismatches)
	assert.Equal(t, []string{settlement.TopicOrderCreated, settlement.TopicPaymentSucceeded, settlement.TopicOrderFulfilled,
		settlement.TopicOrderCompleted}, e.outboxTopics())

	_, err = e.svc.Close(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1"})
	require.NoError(t, err)
	_, err = e.svc.Refund(e.ctx, settlement.RefundRequest{Tenant: shop, OrderID: "o1", Key: "r1", Items: []settlement.RefundItem{{LineID: "l1", Quantity: 1}}})
	assert.ErrorIs(t, err, settlement.ErrIllegalTransition, "closed")
}

func TestBadInputWritesNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(money.Amount{})
	c := e.claim("alice")
	e.fundGiftCard("giftcard:alice", dollars("100.00"))
	good := fiveLines()
	offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: good, CouponIDs: []string{c.ID}})
	require.NoError(t, err)

	eur := fiveLines()
	eur.Lines[2].UnitPrice = money.MustParse("9.95", money.EUR)
	neg := fiveLines()
	neg.Lines[0].UnitPrice = dollars("-1.00")
	zeroQty := fiveLines()
	zeroQty.Lines[1].Quantity = 0
	reserved := fiveLines()
	reserved.Lines[0].ID = settlement.ShippingLineID
	bogus := append([]settlement.Offer{}, offers...)
	bogus[1].CouponID, bogus[1].ID = "no-such-coupon", "coupon:no-such-coupon"

	base := settlement.CreateRequest{Tenant: shop, OrderID: "bad", UserID: "alice", Channel: "app", Cart: good, Offers: offers,
		GiftCards: []settlement.GiftCard{{Account: "giftcard:alice", Amount: dollars("30.00")}}}
	cases := []struct {
		name string
		mod  func(r *settlement.CreateRequest)
		want error
	}{
		{"currency mismatch", func(r *settlement.CreateRequest) { r.Cart = eur }, settlement.ErrCurrencyMismatch},
		{"negative price", func(r *settlement.CreateRequest) { r.Cart = neg }, settlement.ErrInvalidCart},
		{"zero quantity", func(r *settlement.CreateRequest) { r.Cart = zeroQty }, settlement.ErrInvalidCart},
		{"reserved line ID", func(r *settlement.CreateRequest) { r.Cart = reserved }, settlement.ErrInvalidCart},
		{"unknown coupon", func(r *settlement.CreateRequest) { r.Offers = bogus }, coupon.ErrUnknownCoupon},
		{"gift card in EUR", func(r *settlement.CreateRequest) {
			r.GiftCards = []settlement.GiftCard{{Account: "giftcard:alice", Amount: money.MustParse("1", money.EUR)}}
		}, settlement.ErrCurrencyMismatch},
		{"negative gift card", func(r *settlement.CreateRequest) {
			r.GiftCards = []settlement.GiftCard{{Account: "giftcard:alice", Amount: dollars("-1")}}
		}, settlement.ErrInvalidRequest},
		{"gift card above total", func(r *settlement.CreateRequest) {
			r.GiftCards = []settlement.GiftCard{{Account: "giftcard:alice", Amount: dollars("999")}}
		}, settlement.ErrInvalidRequest},
		{"gift card overspent", func(r *settlement.CreateRequest) {
			e.fundGiftCard("giftcard:bob", dollars("5.00"))
			r.GiftCards = []settlement.GiftCard{{Account: "giftcard:bob", Amount: dollars("6.00")}}
		}, ledger.ErrInsufficientFunds},
		{"someone else's coupon", func(r *settlement.CreateRequest) { r.UserID = "mallory" }, coupon.ErrNotOwner},
		{"empty order ID", func(r *settlement.CreateRequest) { r.OrderID = "" }, settlement.ErrInvalidRequest},
		{"bad tenant", func(r *settlement.CreateRequest) { r.Tenant = "a b" }, storage.ErrInvalidTenant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.mod(&r)
			_, err := e.svc.CreateOrder(e.ctx, r)
			require.ErrorIs(t, err, tc.want)
			_, err = e.svc.Order(e.ctx, shop, "bad")
			assert.ErrorIs(t, err, settlement.ErrOrderNotFound)
			cp, err := e.cps.Coupon(e.ctx, shop, c.ID)
			require.NoError(t, err)
			assert.Equal(t, coupon.StateActivated, cp.State, "coupon untouched")
			assert.True(t, e.available("giftcard:alice").Equal(dollars("100.00")), "no hold left")
			assert.Empty(t, e.outboxTopics())
		})
	}

	_, err = e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: good, CouponIDs: []string{"nope"}})
	assert.ErrorIs(t, err, coupon.ErrUnknownCoupon)
	_, err = e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: neg})
	assert.ErrorIs(t, err, settlement.ErrInvalidCart)

	// refund input
	o := e.checkout("ok", "alice", good, []string{c.ID}, "", money.Amount{})
	for _, items := range [][]settlement.RefundItem{
		nil,
		{{LineID: "l1", Quantity: 0}},
		{{LineID: "l1", Quantity: -2}},
		{{LineID: "l1", Quantity: 4}},
		{{LineID: "zz", Quantity: 1}},
		{{LineID: "l1", Quantity: 1}, {LineID: "l1", Quantity: 1}},
	} {
		_, err := e.svc.Refund(e.ctx, settlement.RefundRequest{Tenant: shop, OrderID: "ok", Key: "r", Items: items})
		assert.ErrorIs(t, err, settlement.ErrInvalidRequest, "%v", items)
	}
	after, err := e.svc.Order(e.ctx, shop, "ok")
	require.NoError(t, err)
	assert.Equal(t, o.Version, after.Version, "nothing written")
	assert.True(t, e.balance(settlement.ClearingAccount).Equal(o.Total))
}

func TestRequote(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(dollars("40.00"))
	a, b := e.claim("alice"), e.claim("bob")
	cart := fiveLines()
	snapA, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: cart, CouponIDs: []string{a.ID}})
	require.NoError(t, err)
	require.NotNil(t, snapA[1].BudgetLeft)
	assert.True(t, snapA[1].BudgetLeft.Equal(dollars("40.00")))
	// bob spends most of the budget after alice's snapshot
	e.checkout("ob", "bob", cart, []string{b.ID}, "", money.Amount{})
	_, err = e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: "oa", UserID: "alice", Channel: "app", Cart: cart, Offers: snapA})
	require.ErrorIs(t, err, settlement.ErrRequote)
	_, err = e.svc.Order(e.ctx, shop, "oa")
	require.ErrorIs(t, err, settlement.ErrOrderNotFound)
	cp, err := e.cps.Coupon(e.ctx, shop, a.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, cp.State)
	// a fresh snapshot prices with what is left
	snap2, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: cart, CouponIDs: []string{a.ID}})
	require.NoError(t, err)
	o, err := e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: "oa", UserID: "alice", Channel: "app", Cart: cart, Offers: snap2})
	require.NoError(t, err)
	assert.True(t, o.Discounts[1].Amount.Equal(*snap2[1].BudgetLeft), "capped at what the budget has left")
}

func TestCancelAndTimeout(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(money.Amount{})
	c1, c2 := e.claim("alice"), e.claim("alice")
	e.fundGiftCard("giftcard:alice", dollars("100.00"))
	cart := fiveLines()
	create := func(id string, c coupon.Coupon) settlement.Order {
		offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: cart, CouponIDs: []string{c.ID}})
		require.NoError(t, err)
		o, err := e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: id, UserID: "alice", Channel: "app", Cart: cart,
			Offers: offers, GiftCards: []settlement.GiftCard{{Account: "giftcard:alice", Amount: dollars("20.00")}}})
		require.NoError(t, err)
		return o
	}
	create("o1", c1)
	create("o2", c2)
	assert.True(t, e.available("giftcard:alice").Equal(dollars("60.00")))

	o, err := e.svc.Cancel(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1", Reason: "changed my mind"})
	require.NoError(t, err)
	assert.Equal(t, settlement.StateCancelled, o.State)
	_, err = e.svc.Cancel(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1"})
	require.NoError(t, err, "cancelling again is a no-op")
	cp, err := e.cps.Coupon(e.ctx, shop, c1.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, cp.State, "released")
	assert.True(t, e.available("giftcard:alice").Equal(dollars("80.00")))
	_, err = e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "late", Amount: o.Tenders[0].Amount})
	assert.ErrorIs(t, err, settlement.ErrIllegalTransition)

	res, err := e.svc.CancelExpired(e.ctx, shop, 10)
	require.NoError(t, err)
	assert.Equal(t, 0, res.Done, "o2 is not due yet")
	e.clock.Advance(16 * 60 * 1e9)
	res, err = e.svc.CancelExpired(e.ctx, shop, 10)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Done)
	o2, err := e.svc.Order(e.ctx, shop, "o2")
	require.NoError(t, err)
	assert.Equal(t, settlement.StateCancelled, o2.State)
	assert.True(t, e.available("giftcard:alice").Equal(dollars("100.00")))
	cp, err = e.cps.Coupon(e.ctx, shop, c2.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, cp.State)
	rep, err := e.svc.Reconcile(e.ctx, shop)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Mismatches)
}

func TestConfigValidate(t *testing.T) {
	err := settlement.Config{}.Validate()
	require.ErrorIs(t, err, settlement.ErrInvalidConfig)
	for _, s := range [][]settlement.Share{
		{{Party: "platform", Ratio: decimal.RequireFromString("0.5")}},
		{{Party: "platform", Ratio: decimal.RequireFromString("1.5")}, {Party: "merchant", Ratio: decimal.RequireFromString("-0.5")}},
		{{Party: "", Ratio: decimal.NewFromInt(1)}},
		{{Party: "a", Ratio: decimal.RequireFromString("0.5")}, {Party: "a", Ratio: decimal.RequireFromString("0.5")}},
	} {
		assert.ErrorIs(t, settlement.ValidateSplit(s), settlement.ErrInvalidConfig, "%v", s)
	}
	assert.NoError(t, settlement.ValidateSplit(testSplit()))
	for _, c := range []settlement.Cycle{{Kind: settlement.CycleDaily, Days: 1}, {Party: "x", Kind: "weekly"}, {Party: "x", Kind: settlement.CycleDaily}} {
		assert.True(t, errors.Is(c.Validate(), settlement.ErrInvalidConfig), "%+v", c)
	}
}
