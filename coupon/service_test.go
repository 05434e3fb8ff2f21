package coupon_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// The fixtures (newFixture, tenOff, the template options) are in
// fixtures_test.go.

func TestClaimValidityInTimeZone(t *testing.T) {
	f := newFixture(t, tenOff("t1"))
	c := f.claim(t, "t1", "u1")
	assert.Equal(t, coupon.StateActivated, c.State)
	assert.Equal(t, "u1", c.UserID)
	// claimed 2025-08-11 18:00 in Shanghai; 7 days counting the claim day
	// end at 2025-08-18 00:00 Shanghai = 2025-08-17 16:00 UTC.
	assert.Equal(t, time.Date(2025, 8, 17, 16, 0, 0, 0, time.UTC), c.ValidUntil.UTC())
	trail := f.audit(t, c.ID)
	require.Len(t, trail, 1)
	assert.Equal(t, coupon.EventClaim, trail[0].Event)
	assert.Equal(t, coupon.StateUnactivated, trail[0].From)
	assert.Equal(t, coupon.StateActivated, trail[0].To)
	assert.Equal(t, "u1", trail[0].Actor)
}

func TestClaimLimits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1", limits(coupon.Limits{Stock: 3, PerUser: 2})))
	f.claim(t, "t1", "u1")
	f.claim(t, "t1", "u1")
	_, err := f.svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "t1", UserID: "u1"})
	require.ErrorIs(t, err, coupon.ErrUserLimit)
	f.claim(t, "t1", "u2")
	_, err = f.svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "t1", UserID: "u3"})
	require.ErrorIs(t, err, coupon.ErrOutOfStock)
	cs, err := f.svc.ListByUser(ctx, tenant, "u3")
	require.NoError(t, err)
	assert.Empty(t, cs, "a refused claim leaves nothing")
	st := f.stats(t, "t1")
	assert.Equal(t, int64(3), st.Issued)
	assert.Equal(t, int64(0), st.RemainingStock)
	assert.Equal(t, int64(3), st.ByState[coupon.StateActivated])
}

func TestClaimIdempotentByRequestKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1", perUser(5)))
	req := coupon.ClaimRequest{Tenant: tenant, TemplateID: "t1", UserID: "u1", RequestKey: "req-1"}
	a, err := f.svc.Claim(ctx, req)
	require.NoError(t, err)
	b, err := f.svc.Claim(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, a.ID, b.ID)
	cs, err := f.svc.ListByUser(ctx, tenant, "u1")
	require.NoError(t, err)
	assert.Len(t, cs, 1)
	req.UserID = "u2"
	_, err = f.svc.Claim(ctx, req)
	require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
}

func TestClaimRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t,
		tenOff("auto", automatic),
		tenOff("later", startsAt(t0.Add(time.Hour))),
		tenOff("over", validity(coupon.Validity{Start: t0.Add(-48 * time.Hour), End: t0.Add(-time.Hour)})),
		tenOff("cond", conditions(coupon.Condition{Name: "shanghai", Expr: `user.region == "SH"`, Reason: "Shanghai only", On: coupon.PhaseClaim})),
	)

	cases := []struct {
		name string
		req  coupon.ClaimRequest
		want error
	}{
		{"unknown template", coupon.ClaimRequest{Tenant: tenant, TemplateID: "nope", UserID: "u1"}, coupon.ErrUnknownTemplate},
		{"automatic promotion", coupon.ClaimRequest{Tenant: tenant, TemplateID: "auto", UserID: "u1"}, coupon.ErrNotClaimable},
		{"not started", coupon.ClaimRequest{Tenant: tenant, TemplateID: "later", UserID: "u1"}, coupon.ErrNotStarted},
		{"claim window over", coupon.ClaimRequest{Tenant: tenant, TemplateID: "over", UserID: "u1"}, coupon.ErrExpired},
		{"condition", coupon.ClaimRequest{Tenant: tenant, TemplateID: "cond", UserID: "u1", Facts: &rules.Facts{User: rules.User{Region: "BJ"}}}, coupon.ErrConditionFailed},
		{"no user", coupon.ClaimRequest{Tenant: tenant, TemplateID: "cond"}, coupon.ErrInvalidRequest},
		{"bad tenant", coupon.ClaimRequest{Tenant: "", TemplateID: "cond", UserID: "u1"}, storage.ErrInvalidTenant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Claim(ctx, tc.req)
			require.ErrorIs(t, err, tc.want)
		})
	}
	var ce *coupon.ConditionError
	_, err := f.svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "cond", UserID: "u1"})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Shanghai only", ce.Failed[0].Reason)
	c, err := f.svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "cond", UserID: "u1", Facts: &rules.Facts{User: rules.User{Region: "SH"}}})
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, c.State)
}

func TestCreateTemplateRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, err := f.svc.CreateTemplate(ctx, tenOff("bad", conditions(coupon.Condition{Name: "x", Expr: `user.nope == 1`})))
	require.ErrorIs(t, err, coupon.ErrInvalidTemplate)
	var ce *rules.CompileError
	require.ErrorAs(t, err, &ce)

	bad := tenOff("bad", validity(coupon.Validity{TimeZone: "Mars/Olympus"}))
	bad.Limits.Budget = money.MustParse("5", money.JPY)
	bad.Benefit.Amount = money.Amount{}
	err = bad.Validate()
	require.ErrorIs(t, err, coupon.ErrInvalidTemplate)
	require.ErrorIs(t, err, coupon.ErrInvalidBenefit)
	for _, part := range []string{"end or a number of days", "time zone", "budget", "amount is required"} {
		assert.Contains(t, err.Error(), part)
	}
	f.create(t, tenOff("t1"))
	_, err = f.svc.CreateTemplate(ctx, tenOff("t1"))
	require.ErrorIs(t, err, storage.ErrDuplicate)
}

func TestLockUseReleaseRefund(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1",
		limits(coupon.Limits{PerUser: 3, PerOrder: 1, Budget: usd("100.00")}),
		refund(coupon.RefundRestore)))
	c1 := f.claim(t, "t1", "u1")
	c2 := f.claim(t, "t1", "u1")
	basket := cart(coupon.Line{SKU: "A", Quantity: 1, Amount: usd("60.00")})

	lock := lockReq(c1.ID, "o1", "10.00")
	lock.UserID, lock.Cart = "u1", &basket
	r, err := f.svc.Lock(ctx, lock)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateLocked, r.Coupon.State)
	assert.True(t, r.Discount.Equal(usd("10.00")))
	assert.False(t, r.Replayed)

	again, err := f.svc.Lock(ctx, lock)
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, r.Coupon, again.Coupon)

	// one coupon of the template per order
	_, err = f.svc.Lock(ctx, lockReq(c2.ID, "o1", "10.00"))
	require.ErrorIs(t, err, coupon.ErrOrderLimit)
	// locked by o1: another order cannot take it
	before := f.snap(t, c1.ID)
	_, err = f.svc.Lock(ctx, lockReq(c1.ID, "o2", "10.00"))
	require.ErrorIs(t, err, coupon.ErrLocked)
	require.ErrorIs(t, err, coupon.ErrIllegalTransition)
	assert.Equal(t, before, f.snap(t, c1.ID))

	// release restores the budget and the per-order count
	rel, err := f.svc.Release(ctx, order("o1"))
	require.NoError(t, err)
	require.Len(t, rel, 1)
	assert.Equal(t, coupon.StateActivated, rel[0].State)
	assert.Empty(t, rel[0].OrderID)
	assert.True(t, f.stats(t, "t1").BudgetSpent.IsZero())
	rel, err = f.svc.Release(ctx, order("o1"))
	require.NoError(t, err)
	assert.Empty(t, rel, "releasing again does nothing")

	// lock for o2, pay twice: used once, same result
	_, err = f.svc.Lock(ctx, lockReq(c1.ID, "o2", "10.00"))
	require.NoError(t, err)
	used := f.use(t, "o2")
	require.Len(t, used, 1)
	assert.Equal(t, coupon.StateUsed, used[0].State)
	assert.Equal(t, used, f.use(t, "o2"))
	st := f.stats(t, "t1")
	assert.Equal(t, int64(1), st.Used)
	assert.True(t, st.BudgetSpent.Equal(usd("10.00")))
	_, err = f.svc.Use(ctx, order("o-none"))
	require.ErrorIs(t, err, coupon.ErrNotLocked)

	// refund with RefundRestore: REFUNDED then ACTIVATED, budget back
	ref, err := f.svc.Refund(ctx, coupon.OrderRequest{Tenant: tenant, OrderID: "o2", Actor: "cs-7", Reason: "damaged"})
	require.NoError(t, err)
	require.Len(t, ref, 1)
	assert.Equal(t, coupon.StateActivated, ref[0].State)
	st = f.stats(t, "t1")
	assert.Equal(t, int64(0), st.Used)
	assert.True(t, st.BudgetSpent.IsZero())
	trail := f.audit(t, c1.ID)
	var evs []coupon.Event
	for _, e := range trail {
		evs = append(evs, e.Event)
	}
	assert.Equal(t, []coupon.Event{coupon.EventClaim, coupon.EventLock, coupon.EventRelease, coupon.EventLock, coupon.EventUse, coupon.EventRefund, coupon.EventRestore}, evs)
	assert.Equal(t, "cs-7", trail[len(trail)-1].Actor)
	assert.Equal(t, "damaged", trail[len(trail)-1].Reason)
}

func TestRefundBurn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1"))
	c := f.claimLockUse(t, "t1", "u1", "o1")
	ref, err := f.svc.Refund(ctx, order("o1"))
	require.NoError(t, err)
	require.Len(t, ref, 1)
	assert.Equal(t, coupon.StateRefunded, ref[0].State)
	ref, err = f.svc.Refund(ctx, order("o1"))
	require.NoError(t, err)
	assert.Empty(t, ref)
	_, err = f.svc.Lock(ctx, coupon.LockRequest{Tenant: tenant, CouponID: c.ID, OrderID: "o2"})
	require.ErrorIs(t, err, coupon.ErrIllegalTransition)
}

func TestBudgetCut(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1", limits(coupon.Limits{Budget: usd("15.00")})))
	a, b, c := f.claim(t, "t1", "u1"), f.claim(t, "t1", "u2"), f.claim(t, "t1", "u3")
	r, err := f.svc.Lock(ctx, lockReq(a.ID, "o1", "10.00"))
	require.NoError(t, err)
	assert.False(t, r.Cut)
	r, err = f.svc.Lock(ctx, lockReq(b.ID, "o2", "10.00"))
	require.NoError(t, err)
	assert.True(t, r.Cut)
	assert.True(t, r.Discount.Equal(usd("5.00")), r.Discount.String())
	before := f.snap(t, c.ID)
	_, err = f.svc.Lock(ctx, lockReq(c.ID, "o3", "10.00"))
	require.ErrorIs(t, err, coupon.ErrBudgetExhausted)
	assert.Equal(t, before, f.snap(t, c.ID))
	assert.True(t, f.stats(t, "t1").BudgetLeft.IsZero())
}

func TestLockRefusalsChangeNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1", perUser(10), inCategories("shoes"),
		conditions(coupon.Condition{Name: "app", Expr: `order.channel == "app"`, On: coupon.PhaseUse})))
	c := f.claim(t, "t1", "u1")
	frozen := f.claim(t, "t1", "u1")
	_, err := f.svc.Freeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: frozen.ID, Actor: "risk", Reason: "cash-out pattern"})
	require.NoError(t, err)
	shoes := cart(coupon.Line{SKU: "S1", Category: "shoes", Quantity: 1, Amount: usd("80.00")})
	books := cart(coupon.Line{SKU: "B1", Category: "books", Quantity: 1, Amount: usd("80.00")})
	small := cart(coupon.Line{SKU: "S1", Category: "shoes", Quantity: 1, Amount: usd("20.00")})
	eur := coupon.Cart{Currency: money.EUR, Subtotal: money.MustParse("80", money.EUR), Lines: []coupon.Line{{SKU: "S1", Category: "shoes", Quantity: 1, Amount: money.MustParse("80", money.EUR)}}}
	app := &rules.Facts{Order: rules.Order{Channel: "app"}}
	cases := []struct {
		name string
		req  coupon.LockRequest
		want error
	}{
		{"unknown coupon", coupon.LockRequest{CouponID: "nope", OrderID: "o1"}, coupon.ErrUnknownCoupon},
		{"not owner", coupon.LockRequest{CouponID: c.ID, OrderID: "o1", UserID: "u2"}, coupon.ErrNotOwner},
		{"frozen", coupon.LockRequest{CouponID: frozen.ID, OrderID: "o1"}, coupon.ErrFrozen},
		{"discount currency", coupon.LockRequest{CouponID: c.ID, OrderID: "o1", Discount: money.MustParse("5", money.EUR)}, coupon.ErrCurrencyMismatch},
		{"cart currency", coupon.LockRequest{CouponID: c.ID, OrderID: "o1", Cart: &eur, Facts: app}, coupon.ErrCurrencyMismatch},
		{"out of scope", coupon.LockRequest{CouponID: c.ID, OrderID: "o1", Cart: &books, Facts: app}, coupon.ErrNotApplicable},
		{"min spend", coupon.LockRequest{CouponID: c.ID, OrderID: "o1", Cart: &small, Facts: app}, coupon.ErrNotApplicable},
		{"condition", coupon.LockRequest{CouponID: c.ID, OrderID: "o1", Cart: &shoes, Facts: &rules.Facts{Order: rules.Order{Channel: "web"}}}, coupon.ErrConditionFailed},
		{"lock in the past", coupon.LockRequest{CouponID: c.ID, OrderID: "o1", Until: t0.Add(-time.Minute)}, coupon.ErrInvalidRequest},
		{"negative discount", coupon.LockRequest{CouponID: c.ID, OrderID: "o1", Discount: usd("-1.00")}, coupon.ErrInvalidRequest},
		{"no order", coupon.LockRequest{CouponID: c.ID}, coupon.ErrInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snap(t, c.ID)
			tc.req.Tenant = tenant
			_, err := f.svc.Lock(ctx, tc.req)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, before, f.snap(t, c.ID))
		})
	}
	r, err := f.svc.Lock(ctx, coupon.LockRequest{Tenant: tenant, CouponID: c.ID, OrderID: "o1", Cart: &shoes, Facts: app})
	require.NoError(t, err)
	assert.Equal(t, coupon.StateLocked, r.Coupon.State)
}

func TestFreezeUnfreeze(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1"))
	c := f.claim(t, "t1", "u1")
	f.lock(t, c.ID, "o1")
	fr, err := f.svc.Freeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: c.ID, Actor: "risk"})
	require.NoError(t, err)
	assert.Equal(t, coupon.StateFrozen, fr.State)
	assert.Equal(t, coupon.StateLocked, fr.FrozenFrom)
	before := f.snap(t, c.ID)
	_, err = f.svc.Use(ctx, order("o1"))
	require.ErrorIs(t, err, coupon.ErrFrozen)
	_, err = f.svc.Freeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: c.ID})
	require.ErrorIs(t, err, coupon.ErrIllegalTransition)
	assert.Equal(t, before, f.snap(t, c.ID))
	un, err := f.svc.Unfreeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: c.ID, Actor: "risk"})
	require.NoError(t, err)
	assert.Equal(t, coupon.StateLocked, un.State, "back to the state it was frozen from")
	assert.Equal(t, "o1", un.OrderID)
	_, err = f.svc.Unfreeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: c.ID})
	require.ErrorIs(t, err, coupon.ErrIllegalTransition)
	assert.Equal(t, coupon.StateUsed, f.use(t, "o1")[0].State)
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1", perUser(10)))
	a := f.claim(t, "t1", "u1")
	b := f.claim(t, "t1", "u1")
	f.lock(t, b.ID, "o1")
	f.clock.Set(a.ValidUntil)

	// seen on read, before any sweep
	got, err := f.svc.Coupon(ctx, tenant, a.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateExpired, got.State)
	exp, err := f.svc.ListByUser(ctx, tenant, "u1", coupon.StateExpired)
	require.NoError(t, err)
	require.Len(t, exp, 1)
	assert.Equal(t, a.ID, exp[0].ID)
	before := f.snap(t, a.ID)
	_, err = f.svc.Lock(ctx, coupon.LockRequest{Tenant: tenant, CouponID: a.ID, OrderID: "o2"})
	require.ErrorIs(t, err, coupon.ErrExpired)
	assert.Equal(t, before, f.snap(t, a.ID))

	res, err := f.svc.ExpireSweep(ctx, tenant, 100)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Done)
	stored, err := f.store.Coupon(ctx, tenant, a.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateExpired, stored.State)

	// the lock (15 minutes by default) timed out long ago
	res, err = f.svc.ReleaseExpiredLocks(ctx, tenant, 100)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Done)
	stored, err = f.store.Coupon(ctx, tenant, b.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, stored.State)
	res, err = f.svc.ExpireSweep(ctx, tenant, 100)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Done, "the released coupon is past its validity too")
}

func TestSweepUnderLease(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	other := f.newService(t, coupon.Config{Owner: "other"})
	_, ok, err := f.mem.AcquireLease(ctx, "coupon/expire/"+string(tenant), "someone", t0, time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	res, err := other.ExpireSweep(ctx, tenant, 10)
	require.NoError(t, err)
	assert.True(t, res.Skipped)
	_, err = other.ExpireSweep(ctx, tenant, 0)
	require.ErrorIs(t, err, coupon.ErrInvalidRequest)
}

func TestCodes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1", limits(coupon.Limits{Stock: 50, PerUser: 1})))
	codes, err := f.svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: tenant, TemplateID: "t1", Count: 40, Length: 8, ChunkSize: 16})
	require.NoError(t, err)
	require.Len(t, codes, 40)
	_, err = f.svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: tenant, TemplateID: "t1", Count: 11})
	require.ErrorIs(t, err, coupon.ErrOutOfStock)
	st := f.stats(t, "t1")
	assert.Equal(t, int64(40), st.Issued)
	assert.Equal(t, int64(40), st.ByState[coupon.StateUnactivated])

	code := codes[0]
	typed := strings.ToLower(coupon.FormatCode(code))
	c, err := f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: typed, UserID: "u1"})
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, c.State)
	assert.Equal(t, code, c.Code)
	assert.False(t, c.ValidUntil.IsZero(), "relative validity starts at redemption")
	again, err := f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: code, UserID: "u1"})
	require.NoError(t, err)
	assert.Equal(t, c, again)
	_, err = f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: code, UserID: "u2"})
	require.ErrorIs(t, err, coupon.ErrCodeTaken)
	_, err = f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: codes[1], UserID: "u1"})
	require.ErrorIs(t, err, coupon.ErrUserLimit)

	// one typo: refused as such, not as an unknown code
	typo := []byte(codes[1])
	typo[2] = coupon.CodeAlphabet[(strings.IndexByte(coupon.CodeAlphabet, typo[2])+5)%len(coupon.CodeAlphabet)]
	_, err = f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: string(typo), UserID: "u2"})
	require.ErrorIs(t, err, coupon.ErrBadCheckCharacter)
	assert.NotErrorIs(t, err, coupon.ErrUnknownCode)
	gen, err := coupon.NewCodeGenerator(8)
	require.NoError(t, err)
	_, err = f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: gen.Next(), UserID: "u2"})
	require.ErrorIs(t, err, coupon.ErrUnknownCode)
	before := f.snap(t, c.ID)
	_, err = f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: "7XK9-B2T0", UserID: "u2"})
	require.ErrorIs(t, err, coupon.ErrMalformedCode)
	assert.Equal(t, before, f.snap(t, c.ID))
}

// failingStore fails UpdateDistribution once, after the first batch.
type failingStore struct {
	coupon.Store
	calls int
}

func (s *failingStore) UpdateDistribution(ctx context.Context, d coupon.Distribution, prev int64) error {
	s.calls++
	if s.calls == 2 {
		return errors.New("disk on fire")
	}
	return s.Store.UpdateDistribution(ctx, d, prev)
}

func TestDistributeResumes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1", limits(coupon.Limits{Stock: 8, PerUser: 1})))
	// u3 already holds one: skipped by the per-user limit
	f.claim(t, "t1", "u3")
	users := []string{"u1", "u2", "u3", "u4", "u2", "u5", "u6", "u7", "u8", "u9", "u10"}
	flaky := f.newService(t, coupon.Config{Store: &failingStore{Store: f.store}})
	req := coupon.DistributeRequest{Tenant: tenant, ID: "d1", TemplateID: "t1", Users: users, BatchSize: 3}
	d, err := flaky.Distribute(ctx, req)
	require.Error(t, err)
	assert.Equal(t, 3, d.Next, "the first batch was saved")
	mid, err := f.svc.Distribution(ctx, tenant, "d1")
	require.NoError(t, err)
	assert.Equal(t, 3, mid.Next)

	d, err = f.svc.Distribute(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, coupon.DistributionExhausted, d.Status)
	assert.Equal(t, 7, d.Issued)
	assert.Equal(t, 1, d.Skipped)
	require.Len(t, d.Failures, 1)
	assert.Equal(t, "u3", d.Failures[0].UserID)
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7"} {
		cs, err := f.svc.ListByUser(ctx, tenant, u)
		require.NoError(t, err)
		assert.Len(t, cs, 1, u)
	}
	assert.Equal(t, int64(8), f.stats(t, "t1").Issued)

	again, err := f.svc.Distribute(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, d.Issued, again.Issued)
	req.Users = []string{"x"}
	_, err = f.svc.Distribute(ctx, req)
	require.ErrorIs(t, err, coupon.ErrInvalidRequest)
}

func TestUsable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t,
		tenOff("shoes", inCategories("shoes")),
		oneDay("pct", percentOff(20, "500.00")),
		oneDay("ship", freeShipping(), automatic),
	)
	s := f.claim(t, "shoes", "u1")
	p := f.claim(t, "pct", "u1")
	p2 := f.claim(t, "pct", "u1")
	_, err := f.svc.Freeze(ctx, coupon.CouponRequest{Tenant: tenant, CouponID: p2.ID})
	require.NoError(t, err)
	basket := cart(coupon.Line{SKU: "B1", Category: "books", Quantity: 2, Amount: usd("70.00")})
	basket.Shipping = usd("5.00")
	u, err := f.svc.Usable(ctx, coupon.UsableRequest{Tenant: tenant, UserID: "u1", Cart: basket})
	require.NoError(t, err)
	var usable []string
	for _, c := range u.Usable {
		if c.Coupon != nil {
			usable = append(usable, c.Coupon.ID)
		} else {
			usable = append(usable, "auto:"+c.Template.ID)
		}
	}
	assert.ElementsMatch(t, []string{p.ID, "auto:ship"}, usable)
	reasons := map[string]error{}
	for _, r := range u.Unusable {
		reasons[r.Coupon.ID] = r.Err
		assert.NotEmpty(t, r.Reason)
	}
	require.ErrorIs(t, reasons[s.ID], coupon.ErrNotApplicable)
	require.ErrorIs(t, reasons[p2.ID], coupon.ErrFrozen)

	_, err = f.svc.Usable(ctx, coupon.UsableRequest{Tenant: tenant, UserID: "u1", Cart: coupon.Cart{Currency: money.USD, Lines: []coupon.Line{{Amount: money.MustParse("1", money.EUR)}}}})
	require.ErrorIs(t, err, coupon.ErrCurrencyMismatch)
	eur := coupon.Cart{Currency: money.EUR, Lines: []coupon.Line{{SKU: "x", Quantity: 1, Amount: money.MustParse("80", money.EUR)}}}
	u, err = f.svc.Usable(ctx, coupon.UsableRequest{Tenant: tenant, UserID: "u1", Cart: eur})
	require.NoError(t, err)
	assert.Empty(t, u.Usable)
	for _, r := range u.Unusable {
		if r.Coupon != nil && r.Coupon.ID == p.ID {
			require.ErrorIs(t, r.Err, coupon.ErrCurrencyMismatch)
		}
	}
}

func TestOutboxGetsEveryTransition(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, tenOff("t1"))
	c := f.claimLockUse(t, "t1", "u1", "o1")
	p := storage.PartitionOf(tenant, "coupon", c.ID)
	msgs, err := f.mem.PendingOutbox(ctx, p, 100)
	require.NoError(t, err)
	var topics []string
	for _, m := range msgs {
		if m.AggregateID == c.ID {
			topics = append(topics, m.Topic)
		}
	}
	assert.Equal(t, []string{"coupon.claim", "coupon.lock", "coupon.use"}, topics)
	for i, e := range f.audit(t, c.ID) {
		assert.Equal(t, e.EventID, msgs[i].EventID)
	}
}

func TestConfigValidate(t *testing.T) {
	_, err := coupon.New(coupon.Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Store")
	assert.Contains(t, err.Error(), "Transactor")
}

// plainStore hides the adapter's optional claim fast paths (IssueClaim,
// ClaimDirect), so that Claim takes the portable path of one store call
// per step.
type plainStore struct{ coupon.Store }

// TestClaimFastAndPortablePathsAgree runs the same claims through the
// memory adapter's one-step ClaimDirect (no transaction in ctx), its
// IssueClaim (each claim inside a transaction) and the portable path:
// same coupons, audit, outbox, counters and refusals, and a refusal
// leaves nothing behind on any.
func TestClaimFastAndPortablePathsAgree(t *testing.T) {
	type outcome struct {
		errs              []string
		issued, perUserU1 int64
		outbox            int
		trail             int
	}
	run := func(t *testing.T, hide, inTx bool) outcome {
		ctx := context.Background()
		f := newFixture(t, tenOff("t1", limits(coupon.Limits{Stock: 3, PerUser: 2})))
		mem := f.mem
		var store coupon.Store = f.store
		if hide {
			store = plainStore{store}
		}
		svc := f.newService(t, coupon.Config{Store: store})
		var out outcome
		var last coupon.Coupon
		for _, u := range []string{"u1", "u1", "u1", "u2", "u3"} {
			var c coupon.Coupon
			claim := func(ctx context.Context) error {
				var err error
				c, err = svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "t1", UserID: u})
				return err
			}
			var err error
			if inTx {
				err = mem.InTx(ctx, claim)
			} else {
				err = claim(ctx)
			}
			switch {
			case errors.Is(err, coupon.ErrUserLimit):
				out.errs = append(out.errs, "user limit")
			case errors.Is(err, coupon.ErrOutOfStock):
				out.errs = append(out.errs, "out of stock")
			default:
				require.NoError(t, err)
				out.errs = append(out.errs, "ok")
				last = c
			}
		}
		var err error
		out.issued, err = mem.Counter(ctx, tenant, "coupon/t1/issued")
		require.NoError(t, err)
		out.perUserU1, err = mem.Counter(ctx, tenant, "coupon/t1/user/u1")
		require.NoError(t, err)
		for p := range storage.OutboxPartitions {
			msgs, err := mem.PendingOutbox(ctx, p, 100)
			require.NoError(t, err)
			out.outbox += len(msgs)
		}
		trail, err := svc.Audit(ctx, tenant, last.ID)
		require.NoError(t, err)
		out.trail = len(trail)
		none, err := svc.ListByUser(ctx, tenant, "u3")
		require.NoError(t, err)
		assert.Empty(t, none, "a refused claim leaves nothing")
		return out
	}
	direct, inTx, portable := run(t, false, false), run(t, false, true), run(t, true, false)
	assert.Equal(t, outcome{errs: []string{"ok", "ok", "user limit", "ok", "out of stock"}, issued: 3, perUserU1: 2, outbox: 3, trail: 1}, direct)
	assert.Equal(t, direct, inTx)
	assert.Equal(t, direct, portable)
}

// countingStore counts the template reads of a store.
type countingStore struct {
	coupon.Store
	reads atomic.Int64
}

func (c *countingStore) Template(ctx context.Context, tenant storage.TenantID, id string) (coupon.Template, error) {
	c.reads.Add(1)
	return c.Store.Template(ctx, tenant, id)
}

// Claim reads a template once per Config.TemplateCacheTTL (only found
// ones are kept); a negative TTL reads it for every claim.
func TestClaimTemplateCache(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		reads int64 // for 3 claims after a miss on an unknown template
	}{
		{"default TTL", 0, 2},
		{"expired at once", time.Nanosecond, 4},
		{"off", -1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.MustNew()
			store := &countingStore{Store: mem.Coupons()}
			svc, err := coupon.New(coupon.Config{Store: store, Tx: mem, TemplateCacheTTL: tc.ttl})
			require.NoError(t, err)
			req := coupon.ClaimRequest{Tenant: tenant, TemplateID: "t1", UserID: "u1"}
			_, err = svc.Claim(ctx, req)
			require.ErrorIs(t, err, coupon.ErrUnknownTemplate, "not there yet")
			_, err = svc.CreateTemplate(ctx, tenOff("t1", validity(coupon.Validity{Days: 7}), perUser(0)))
			require.NoError(t, err)
			for range 3 {
				_, err := svc.Claim(ctx, req)
				require.NoError(t, err, "a miss is not cached")
			}
			assert.Equal(t, tc.reads, store.reads.Load())
		})
	}
}

// Lock and Usable read the template through the same cache as Claim: a
// checkout on the instance that served the claim reads no template.
func TestLockAndUsableUseTheTemplateCache(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		reads int64 // after the claim: by Usable, then by Lock
	}{{"default TTL", 0, 0}, {"off", -1, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.MustNew()
			store := &countingStore{Store: mem.Coupons()}
			svc, err := coupon.New(coupon.Config{Store: store, Tx: mem, TemplateCacheTTL: tc.ttl})
			require.NoError(t, err)
			_, err = svc.CreateTemplate(ctx, tenOff("t1", validity(coupon.Validity{Days: 7}), perUser(0)))
			require.NoError(t, err)
			c, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "t1", UserID: "u1"})
			require.NoError(t, err)
			store.reads.Store(0)
			cart := coupon.Cart{Currency: money.USD, Subtotal: usd("60.00"), Lines: []coupon.Line{{SKU: "a", Quantity: 1, Amount: usd("60.00")}}}
			u, err := svc.Usable(ctx, coupon.UsableRequest{Tenant: tenant, UserID: "u1", Cart: cart})
			require.NoError(t, err)
			require.Len(t, u.Usable, 1)
			_, err = svc.Lock(ctx, coupon.LockRequest{Tenant: tenant, CouponID: c.ID, OrderID: "o1"})
			require.NoError(t, err)
			assert.Equal(t, tc.reads, store.reads.Load())
		})
	}
}
