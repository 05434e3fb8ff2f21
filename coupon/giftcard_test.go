package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

type cardFixture struct {
	*fixture
	led *ledger.Ledger
}

func newCardFixture(t testing.TB) *cardFixture {
	t.Helper()
	clock := storage.NewFakeClock(t0)
	mem, err := memory.New(memory.Options{Clock: clock, LockWait: 2 * time.Second})
	require.NoError(t, err)
	led, err := ledger.New(ledger.Config{Store: mem.Ledger(), Tx: mem, Clock: clock})
	require.NoError(t, err)
	env, err := rules.NewEnv()
	require.NoError(t, err)
	svc, err := coupon.New(coupon.Config{Store: mem.Coupons(), Tx: mem, Clock: clock, Rules: env, Ledger: led})
	require.NoError(t, err)
	f := &cardFixture{fixture: &fixture{svc: svc, mem: mem, store: mem.Coupons(), clock: clock}, led: led}
	f.create(t, giftCard("gc100", "100.00"))
	return f
}

func giftCard(id, amount string) coupon.Template {
	return coupon.Template{
		Tenant: tenant, ID: id, Name: "gift card " + amount,
		Benefit:  coupon.Benefit{Kind: coupon.KindGiftCard, Currency: money.USD, Amount: usd(amount)},
		Validity: coupon.Validity{Days: 365},
	}
}

// balance returns the card's posted, held and available balance.
func (f *cardFixture) balance(t testing.TB, id string) [3]string {
	t.Helper()
	p, h, a, err := f.svc.GiftCardBalance(context.Background(), tenant, id)
	require.NoError(t, err)
	return [3]string{p.StringFixed(), h.StringFixed(), a.StringFixed()}
}

func (f *cardFixture) posted(t testing.TB, account string) money.Amount {
	t.Helper()
	b, err := f.led.Balance(context.Background(), tenant, account, money.USD)
	require.NoError(t, err)
	return b.Posted
}

func TestGiftCardFundedAtClaim(t *testing.T) {
	f := newCardFixture(t)
	c := f.claim(t, "gc100", "u1")
	assert.Equal(t, coupon.StateActivated, c.State)
	assert.Equal(t, [3]string{"100.00", "0.00", "100.00"}, f.balance(t, c.ID))
	assert.Equal(t, "-100.00", f.posted(t, ledger.World).StringFixed(), "issued from World")

	// without a ledger a gift card cannot be claimed, and nothing is left behind
	plain := newFixture(t)
	plain.create(t, giftCard("gc", "10.00"))
	_, err := plain.svc.Claim(context.Background(), coupon.ClaimRequest{Tenant: tenant, TemplateID: "gc", UserID: "u1"})
	require.ErrorIs(t, err, coupon.ErrNoLedger)
	cs, err := plain.svc.ListByUser(context.Background(), tenant, "u1")
	require.NoError(t, err)
	assert.Empty(t, cs)
	_, err = plain.svc.AuthorizeGiftCard(context.Background(), tenant, coupon.GiftCardAuth{CouponID: "x", OrderID: "o", Amount: usd("1.00")})
	require.ErrorIs(t, err, coupon.ErrNoLedger)
}

func TestGiftCardFundedAtCodeRedemption(t *testing.T) {
	ctx := context.Background()
	f := newCardFixture(t)
	codes, err := f.svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: tenant, TemplateID: "gc100", Count: 1})
	require.NoError(t, err)
	c, err := f.store.CouponByCode(ctx, tenant, codes[0])
	require.NoError(t, err)
	assert.Equal(t, [3]string{"0.00", "0.00", "0.00"}, f.balance(t, c.ID), "not funded before activation")
	_, err = f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o1", Amount: usd("1.00")})
	require.ErrorIs(t, err, coupon.ErrNotActivated)

	c, err = f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: codes[0], UserID: "u1"})
	require.NoError(t, err)
	assert.Equal(t, [3]string{"100.00", "0.00", "100.00"}, f.balance(t, c.ID))
	// redeeming again by the same user funds nothing more
	_, err = f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: codes[0], UserID: "u1"})
	require.NoError(t, err)
	assert.Equal(t, [3]string{"100.00", "0.00", "100.00"}, f.balance(t, c.ID))
}

func TestGiftCardSpendOverManyOrders(t *testing.T) {
	ctx := context.Background()
	f := newCardFixture(t)
	c := f.claim(t, "gc100", "u1")

	a1, err := f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o1", Amount: usd("60.00"), UserID: "u1"})
	require.NoError(t, err)
	assert.NotEmpty(t, a1.HoldID)
	assert.Equal(t, [3]string{"100.00", "60.00", "40.00"}, f.balance(t, c.ID))

	// same order, same request: the first authorization; another amount: refused
	again, err := f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o1", Amount: usd("60.00")})
	require.NoError(t, err)
	assert.Equal(t, a1.HoldID, again.HoldID)
	_, err = f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o1", Amount: usd("61.00")})
	require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)

	// over the available balance
	_, err = f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o2", Amount: usd("40.01")})
	require.ErrorIs(t, err, coupon.ErrInsufficientBalance)
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	_, err = f.svc.GiftCardAuthorization(ctx, tenant, "o2")
	require.ErrorIs(t, err, coupon.ErrNotAuthorized, "a refused authorization leaves nothing")

	// two partial captures of o1, then void the rest
	cp1, err := f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o1", Amount: usd("25.00"), Destination: "merchant:m1", Key: "ship-1"})
	require.NoError(t, err)
	replay, err := f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o1", Amount: usd("25.00"), Destination: "merchant:m1", Key: "ship-1"})
	require.NoError(t, err)
	assert.Equal(t, cp1.TxID, replay.TxID, "same key: the first capture")
	_, err = f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o1", Amount: usd("26.00"), Destination: "merchant:m1", Key: "ship-1"})
	require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
	_, err = f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o1", Amount: usd("35.01"), Destination: "merchant:m1", Key: "ship-2"})
	require.ErrorIs(t, err, ledger.ErrOverCapture)
	_, err = f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o1", Amount: usd("15.00"), Destination: "merchant:m2", Key: "ship-2"})
	require.NoError(t, err)
	assert.Equal(t, [3]string{"60.00", "20.00", "40.00"}, f.balance(t, c.ID))
	assert.Equal(t, "25.00", f.posted(t, "merchant:m1").StringFixed())
	assert.Equal(t, "15.00", f.posted(t, "merchant:m2").StringFixed())

	v, err := f.svc.VoidGiftCard(ctx, tenant, "o1")
	require.NoError(t, err)
	assert.True(t, v.Voided)
	assert.Equal(t, "40.00", v.Captured().StringFixed())
	assert.Equal(t, [3]string{"60.00", "0.00", "60.00"}, f.balance(t, c.ID))
	_, err = f.svc.VoidGiftCard(ctx, tenant, "o1")
	require.NoError(t, err, "voiding again changes nothing")
	_, err = f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o1", Amount: usd("1.00"), Destination: "merchant:m1", Key: "late"})
	require.ErrorIs(t, err, ledger.ErrHoldClosed)

	// o2 spends the rest (capture of everything authorized): the card is USED
	_, err = f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o2", Amount: usd("60.00")})
	require.NoError(t, err)
	all, err := f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o2", Destination: "merchant:m1"})
	require.NoError(t, err)
	assert.Equal(t, "60.00", all.Amount.StringFixed())
	got, err := f.svc.Coupon(ctx, tenant, c.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateUsed, got.State)
	_, err = f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o3", Amount: usd("0.01")})
	require.ErrorIs(t, err, coupon.ErrInsufficientBalance)

	// a refund brings it back to ACTIVATED, newest capture first
	r, err := f.svc.RefundGiftCard(ctx, tenant, coupon.GiftCardRefund{OrderID: "o1", Amount: usd("20.00"), Key: "r1"})
	require.NoError(t, err)
	require.Len(t, r.TxIDs, 2, "15.00 from the newest capture, 5.00 from the one before")
	assert.Equal(t, "0.00", f.posted(t, "merchant:m2").StringFixed(), "m2 gave back all of its 15.00")
	assert.Equal(t, "80.00", f.posted(t, "merchant:m1").StringFixed(), "m1 gave back 5.00 of 25.00 + 60.00")
	got, err = f.svc.Coupon(ctx, tenant, c.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, got.State)
	assert.Equal(t, [3]string{"20.00", "0.00", "20.00"}, f.balance(t, c.ID))
	again2, err := f.svc.RefundGiftCard(ctx, tenant, coupon.GiftCardRefund{OrderID: "o1", Amount: usd("20.00"), Key: "r1"})
	require.NoError(t, err)
	assert.Equal(t, r.TxIDs, again2.TxIDs, "same key: the first refund")
	_, err = f.svc.RefundGiftCard(ctx, tenant, coupon.GiftCardRefund{OrderID: "o1", Amount: usd("20.01"), Key: "r2"})
	require.ErrorIs(t, err, coupon.ErrOverRefund)
	_, err = f.svc.RefundGiftCard(ctx, tenant, coupon.GiftCardRefund{OrderID: "o1", Key: "r2"})
	require.NoError(t, err, "the rest")
	assert.Equal(t, [3]string{"40.00", "0.00", "40.00"}, f.balance(t, c.ID))

	trail, err := f.svc.Audit(ctx, tenant, c.ID)
	require.NoError(t, err)
	var evs []coupon.Event
	for _, e := range trail {
		evs = append(evs, e.Event)
	}
	assert.Equal(t, []coupon.Event{coupon.EventClaim, coupon.EventDeplete, coupon.EventReplenish}, evs)
}

func TestGiftCardRefusals(t *testing.T) {
	ctx := context.Background()
	f := newCardFixture(t)
	c := f.claim(t, "gc100", "u1")
	f.create(t, tenOff("t1"))
	plain := f.claim(t, "t1", "u1")
	eur := money.MustParse("1.00", money.EUR)
	cases := []struct {
		name string
		req  coupon.GiftCardAuth
		want error
	}{
		{"not a gift card", coupon.GiftCardAuth{CouponID: plain.ID, OrderID: "o", Amount: usd("1.00")}, coupon.ErrNotGiftCard},
		{"unknown coupon", coupon.GiftCardAuth{CouponID: "nope", OrderID: "o", Amount: usd("1.00")}, coupon.ErrUnknownCoupon},
		{"another owner", coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o", Amount: usd("1.00"), UserID: "u2"}, coupon.ErrNotOwner},
		{"currency", coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o", Amount: eur}, coupon.ErrCurrencyMismatch},
		{"zero", coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o", Amount: usd("0.00")}, coupon.ErrInvalidRequest},
		{"negative", coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o", Amount: usd("-1.00")}, coupon.ErrInvalidRequest},
		{"no order", coupon.GiftCardAuth{CouponID: c.ID, Amount: usd("1.00")}, coupon.ErrInvalidRequest},
		{"expiry in the past", coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o", Amount: usd("1.00"), ExpiresAt: t0.Add(-time.Second)}, coupon.ErrInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.AuthorizeGiftCard(ctx, tenant, tc.req)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, [3]string{"100.00", "0.00", "100.00"}, f.balance(t, c.ID), "a refusal changes nothing")
		})
	}

	// frozen: refused; unfrozen: fine
	_, err := f.svc.Freeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: c.ID, Actor: "risk"})
	require.NoError(t, err)
	_, err = f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o", Amount: usd("1.00")})
	require.ErrorIs(t, err, coupon.ErrFrozen)
	_, err = f.svc.Unfreeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: c.ID, Actor: "risk"})
	require.NoError(t, err)
	_, err = f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o", Amount: usd("1.00")})
	require.NoError(t, err)

	// capture errors
	_, err = f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "nope", Amount: usd("1.00"), Destination: "m"})
	require.ErrorIs(t, err, coupon.ErrNotAuthorized)
	_, err = f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o", Amount: usd("1.00"), Destination: "bad account"})
	require.ErrorIs(t, err, coupon.ErrInvalidRequest)
	_, err = f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o", Amount: usd("1.00"), Destination: coupon.GiftCardAccount(c.ID)})
	require.ErrorIs(t, err, coupon.ErrInvalidRequest)
	_, err = f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: "o", Amount: eur, Destination: "m"})
	require.ErrorIs(t, err, coupon.ErrCurrencyMismatch)
	_, err = f.svc.RefundGiftCard(ctx, tenant, coupon.GiftCardRefund{OrderID: "o", Amount: usd("1.00")})
	require.ErrorIs(t, err, coupon.ErrOverRefund, "nothing captured yet")

	// expired: refused
	f.clock.Advance(400 * 24 * time.Hour)
	_, err = f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: "o9", Amount: usd("1.00")})
	require.ErrorIs(t, err, coupon.ErrExpired)
}

// Concurrent orders on one card never reserve or capture more than its
// balance.
func TestGiftCardConcurrentSpends(t *testing.T) {
	ctx := context.Background()
	f := newCardFixture(t)
	c := f.claim(t, "gc100", "u1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	captured := money.Zero(money.USD)
	for i := range 40 {
		wg.Go(func() {
			order := fmt.Sprintf("o%d", i)
			amt := money.FromMinor(int64(300+i*37), money.USD) // 3.00 .. 17.43
			_, err := f.svc.AuthorizeGiftCard(ctx, tenant, coupon.GiftCardAuth{CouponID: c.ID, OrderID: order, Amount: amt})
			if errors.Is(err, coupon.ErrInsufficientBalance) {
				return
			}
			if !assert.NoError(t, err) {
				return
			}
			cp, err := f.svc.CaptureGiftCard(ctx, tenant, coupon.GiftCardCapture{OrderID: order, Destination: "merchant:m1"})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			captured, _ = captured.Add(cp.Amount)
			mu.Unlock()
		})
	}
	wg.Wait()
	p, h, _, err := f.svc.GiftCardBalance(ctx, tenant, c.ID)
	require.NoError(t, err)
	assert.True(t, h.IsZero())
	sum, err := p.Add(captured)
	require.NoError(t, err)
	assert.Equal(t, "100.00", sum.StringFixed(), "what is left plus what was captured is the initial balance")
	assert.Equal(t, captured.StringFixed(), f.posted(t, "merchant:m1").StringFixed())
}
