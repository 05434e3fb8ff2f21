package settlement_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

// countingStore counts the orders read from a settlement.Store.
type countingStore struct {
	settlement.Store
	reads atomic.Int64
}

func (c *countingStore) Order(ctx context.Context, tenant storage.TenantID, id string) (settlement.Order, error) {
	c.reads.Add(1)
	return c.Store.Order(ctx, tenant, id)
}

// create prices cart with the user's coupon and creates order id on e.svc.
func (e *env) create(id, user, couponID string) settlement.Order {
	e.t.Helper()
	offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: user, Cart: fiveLines(), CouponIDs: []string{couponID}})
	require.NoError(e.t, err)
	o, err := e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: id, UserID: user, Channel: "app", Cart: fiveLines(), Offers: offers})
	require.NoError(e.t, err)
	return o
}

// Pay on the Service that created the order reads no order before its
// transaction, unless told to keep none (Config.RecentOrders < 0); a
// second payment (a replay) reads the stored order either way.
func TestPayOfARecentOrderReadsNothing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		recent int
		reads  int64
	}{{"kept", 0, 0}, {"none kept", -1, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			var counted *countingStore
			e := newEnv(t, func(c *settlement.Config) {
				counted = &countingStore{Store: c.Store}
				c.Store, c.RecentOrders = counted, tt.recent
			})
			e.setupTemplates(money.Amount{})
			o := e.create("o1", "u1", e.claim("u1").ID)
			counted.reads.Store(0)
			paid, err := e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "p1", Amount: o.Tenders[0].Amount})
			require.NoError(t, err)
			assert.Equal(t, tt.reads, counted.reads.Load())
			assert.Equal(t, settlement.StatePaid, paid.State)

			again, err := e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "p1", Amount: o.Tenders[0].Amount})
			require.NoError(t, err)
			assert.Equal(t, tt.reads+1, counted.reads.Load(), "a replay is answered from the stored order")
			assert.Equal(t, paid.Version, again.Version)
		})
	}
}

// An order cancelled by another instance after this one created it is
// not paid from this one's copy: the payment's versioned write fails,
// the order is read again, and the payment is refused with nothing
// written.
func TestPayOfAStaleCopyIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(money.Amount{})
	c := e.claim("u1")
	o := e.create("o1", "u1", c.ID)

	other, err := settlement.New(settlement.Config{Store: e.store.Settlement(), Tx: e.store, Ledger: e.led, Coupons: e.cps, Clock: e.clock,
		Split: testSplit(), Cycles: testCycles()})
	require.NoError(t, err)
	_, err = other.Cancel(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1", Reason: "user"})
	require.NoError(t, err)
	topics := len(e.outboxTopics())

	_, err = e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "p1", Amount: o.Tenders[0].Amount})
	var te *settlement.TransitionError
	require.True(t, errors.As(err, &te), "got %v", err)
	stored, err := e.svc.Order(e.ctx, shop, "o1")
	require.NoError(t, err)
	assert.Equal(t, settlement.StateCancelled, stored.State)
	assert.Empty(t, stored.PaymentRef)
	cp, err := e.cps.Coupon(e.ctx, shop, c.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, cp.State, "the cancel released the coupon and the payment did not use it")
	assert.True(t, e.balance(settlement.ClearingAccount).IsZero(), "nothing collected")
	assert.Len(t, e.outboxTopics(), topics, "no event")
}

// The order CreateOrder returns is the caller's: writing into it changes
// neither the copy Pay uses nor what is paid.
func TestPayIgnoresWritesToTheCreatedOrder(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(money.Amount{})
	o := e.create("o1", "u1", e.claim("u1").ID)
	want := o.Clone()
	for i := range o.Lines {
		o.Lines[i].Net = dollars("0.01")
	}
	o.Discounts[0].Amount = dollars("999")
	o.Tenders[0].HoldID = "h1"

	paid, err := e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "p1", Amount: want.Tenders[0].Amount})
	require.NoError(t, err)
	assert.Equal(t, want.Lines, paid.Lines)
	assert.Equal(t, want.Tenders, paid.Tenders)
	assert.Equal(t, want.Discounts, paid.Discounts)
	assert.True(t, e.balance(settlement.ClearingAccount).Equal(want.Tenders[0].Amount), "collected %s", e.balance(settlement.ClearingAccount))
	stored, err := e.svc.Order(e.ctx, shop, "o1")
	require.NoError(t, err)
	assert.Equal(t, paid.Lines, stored.Lines)
}
