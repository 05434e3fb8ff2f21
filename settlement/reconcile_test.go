package settlement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

// TestReconcileFindsEveryMismatch injects each kind of mismatch behind the
// service's back and checks that Reconcile reports it, and only it.
func TestReconcileFindsEveryMismatch(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(money.Amount{})
	e.fundGiftCard("giftcard:alice", dollars("100.00"))
	ss := e.store.Settlement()
	create := func(id string, coupons []string, card money.Amount) settlement.Order {
		offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: fiveLines(), CouponIDs: coupons})
		require.NoError(t, err)
		req := settlement.CreateRequest{Tenant: shop, OrderID: id, UserID: "alice", Channel: "app", Cart: fiveLines(), Offers: offers}
		if card.IsPositive() {
			req.GiftCards = []settlement.GiftCard{{Account: "giftcard:alice", Amount: card}}
		}
		o, err := e.svc.CreateOrder(e.ctx, req)
		require.NoError(t, err)
		return o
	}
	tamper := func(o settlement.Order, f func(o *settlement.Order)) {
		f(&o)
		o.Version++
		require.NoError(t, ss.UpdateOrder(e.ctx, o, o.Version-1))
	}

	// a healthy, completed order with a coupon and a gift card
	c := e.claim("alice")
	create("healthy", []string{c.ID}, dollars("10.00"))
	o, err := e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "healthy", PaymentRef: "p", Amount: mustTender(t, e, "healthy")})
	require.NoError(t, err)
	_, err = e.svc.Fulfil(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "healthy"})
	require.NoError(t, err)
	_, err = e.svc.Complete(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "healthy"})
	require.NoError(t, err)
	_, err = e.svc.Refund(e.ctx, settlement.RefundRequest{Tenant: shop, OrderID: "healthy", Key: "r", Items: []settlement.RefundItem{{LineID: "l4", Quantity: 3}}})
	require.NoError(t, err)
	rep, err := e.svc.Reconcile(e.ctx, shop)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Mismatches)
	require.Equal(t, 1, rep.Orders)
	require.Positive(t, rep.Postings)
	_ = o

	// 1. missing posting: an order marked paid that never reached the ledger
	mp := create("missing", nil, money.Amount{})
	tamper(mp, func(o *settlement.Order) { o.State, o.PaymentRef = settlement.StatePaid, "forged" })

	// 2. differing amount: the stored order says it was paid more
	create("amount", nil, money.Amount{})
	paid, err := e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "amount", PaymentRef: "p2", Amount: mustTender(t, e, "amount")})
	require.NoError(t, err)
	tamper(paid, func(o *settlement.Order) {
		o.Tenders[0].Amount, _ = o.Tenders[0].Amount.Add(dollars("1.00"))
		o.Total, _ = o.Total.Add(dollars("1.00"))
	})

	// 3. orphan hold: an order cancelled without voiding its gift card hold
	oh := create("orphan", nil, dollars("5.00"))
	tamper(oh, func(o *settlement.Order) { o.State = settlement.StateCancelled })

	// 4. coupon used without a paid order
	c2 := e.claim("alice")
	_, err = e.cps.Lock(e.ctx, coupon.LockRequest{Tenant: shop, CouponID: c2.ID, OrderID: "phantom"})
	require.NoError(t, err)
	_, err = e.cps.Use(e.ctx, coupon.OrderRequest{Tenant: shop, OrderID: "phantom"})
	require.NoError(t, err)

	// 5. coupon state: an unpaid order whose coupon was released behind its back
	c3 := e.claim("alice")
	create("released", []string{c3.ID}, money.Amount{})
	_, err = e.cps.Release(e.ctx, coupon.OrderRequest{Tenant: shop, OrderID: "released"})
	require.NoError(t, err)

	// 6. unexpected posting: a payment posted for an unpaid order
	create("unpaid", nil, money.Amount{})
	_, err = e.led.Transfer(e.ctx, shop, ledger.TransferRequest{Key: "order:unpaid:pay",
		Postings: []ledger.Posting{{Source: ledger.World, Destination: settlement.ClearingAccount, Amount: dollars("3.00")}}})
	require.NoError(t, err)

	rep, err = e.svc.Reconcile(e.ctx, shop)
	require.NoError(t, err)
	found := map[settlement.MismatchKind][]string{}
	for _, m := range rep.Mismatches {
		found[m.Kind] = append(found[m.Kind], m.OrderID)
		assert.NotEmpty(t, m.String())
	}
	assert.Equal(t, []string{"missing"}, found[settlement.MismatchMissingPosting])
	assert.Contains(t, found[settlement.MismatchAmount], "amount")
	for _, id := range found[settlement.MismatchAmount] {
		assert.Equal(t, "amount", id)
	}
	assert.Equal(t, []string{"orphan"}, found[settlement.MismatchOrphanHold])
	assert.Equal(t, []string{"phantom"}, found[settlement.MismatchCouponUnpaid])
	assert.Equal(t, []string{"released"}, found[settlement.MismatchCouponState])
	assert.Equal(t, []string{"unpaid"}, found[settlement.MismatchUnexpectedPosting])
	assert.Len(t, found, 6, "nothing else: %v", rep.Mismatches)
}

func mustTender(t *testing.T, e *env, id string) money.Amount {
	t.Helper()
	o, err := e.svc.Order(e.ctx, shop, id)
	require.NoError(t, err)
	return o.Tenders[0].Amount
}

// TestReconcileFindsOrphanHolds: an open hold into the clearing account
// that no order names is reported, whether its metadata names an order
// that does not exist or none; holds the orders name, closed holds and
// holds into other accounts are not.
func TestReconcileFindsOrphanHolds(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(money.Amount{})
	e.fundGiftCard("giftcard:alice", dollars("100.00"))
	offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: fiveLines()})
	require.NoError(t, err)
	_, err = e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: "waiting", UserID: "alice", Channel: "app",
		Cart: fiveLines(), Offers: offers, GiftCards: []settlement.GiftCard{{Account: "giftcard:alice", Amount: dollars("5.00")}}})
	require.NoError(t, err)
	hold := func(key, dest string, meta map[string]string) *ledger.Hold {
		h, err := e.led.Hold(e.ctx, shop, ledger.HoldRequest{Key: key, Account: "giftcard:alice", Destination: dest,
			Amount: dollars("3.00"), Metadata: meta})
		require.NoError(t, err)
		return h
	}
	ghost := hold("h-ghost", settlement.ClearingAccount, map[string]string{"order": "ghost"})
	bare := hold("h-bare", settlement.ClearingAccount, nil)
	hold("h-other", "escrow:x", map[string]string{"order": "ghost"}) // not settlement's
	voided := hold("h-voided", settlement.ClearingAccount, map[string]string{"order": "gone"})
	_, err = e.led.Void(e.ctx, shop, voided.ID)
	require.NoError(t, err)

	rep, err := e.svc.Reconcile(e.ctx, shop)
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Holds, "the order's hold and the two orphans")
	var got []settlement.Mismatch
	for _, m := range rep.Mismatches {
		if m.Kind == settlement.MismatchOrphanHold {
			got = append(got, m)
		}
	}
	require.Len(t, got, 2, "%v", rep.Mismatches)
	assert.Len(t, rep.Mismatches, 2, "%v", rep.Mismatches)
	byHold := map[string]settlement.Mismatch{got[0].HoldID: got[0], got[1].HoldID: got[1]}
	require.Contains(t, byHold, ghost.ID)
	require.Contains(t, byHold, bare.ID)
	assert.Equal(t, "ghost", byHold[ghost.ID].OrderID)
	assert.Empty(t, byHold[bare.ID].OrderID)
	assert.True(t, byHold[ghost.ID].Got.Equal(dollars("3.00")))
	assert.Equal(t, "giftcard:alice", byHold[bare.ID].Account)
}
