package settlement_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

// A coupon the user holds but cannot use now is reported by its state,
// not as unknown.
func TestOffersReportsHeldCouponState(t *testing.T) {
	e := newEnv(t, nil)
	e.setupTemplates(money.Amount{})
	c := e.claim("alice")
	cart := fiveLines()
	offers := func(user, id string) error {
		_, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: user, Cart: cart, CouponIDs: []string{id}})
		return err
	}
	require.NoError(t, offers("alice", c.ID))

	_, err := e.cps.Freeze(e.ctx, coupon.CouponRequest{Tenant: shop, CouponID: c.ID, Actor: "risk"})
	require.NoError(t, err)
	err = offers("alice", c.ID)
	require.ErrorIs(t, err, coupon.ErrFrozen)
	assert.NotErrorIs(t, err, coupon.ErrUnknownCoupon)
	_, err = e.cps.Unfreeze(e.ctx, coupon.CouponRequest{Tenant: shop, CouponID: c.ID, Actor: "risk"})
	require.NoError(t, err)

	snap, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "alice", Cart: cart, CouponIDs: []string{c.ID}})
	require.NoError(t, err)
	o, err := e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: "o1", UserID: "alice", Channel: "app", Cart: cart, Offers: snap})
	require.NoError(t, err)
	err = offers("alice", c.ID)
	require.ErrorIs(t, err, coupon.ErrLocked)
	assert.NotErrorIs(t, err, coupon.ErrUnknownCoupon)

	_, err = e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o1", PaymentRef: "psp-o1", Amount: o.Tenders[0].Amount})
	require.NoError(t, err)
	err = offers("alice", c.ID)
	require.ErrorIs(t, err, coupon.ErrUsed)
	assert.NotErrorIs(t, err, coupon.ErrUnknownCoupon)

	// Someone else's coupon, and one that does not exist, stay unknown.
	require.ErrorIs(t, offers("mallory", c.ID), coupon.ErrUnknownCoupon)
	require.ErrorIs(t, offers("alice", "no-such-coupon"), coupon.ErrUnknownCoupon)

	b := e.claim("bob")
	e.clock.Advance(366 * 24 * time.Hour)
	err = offers("bob", b.ID)
	require.ErrorIs(t, err, coupon.ErrExpired)
	assert.NotErrorIs(t, err, coupon.ErrUnknownCoupon)
}
