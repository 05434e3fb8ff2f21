package risk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

const tenant storage.TenantID = "shop-1"

var t0 = time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)

func newEngine(t interface {
	require.TestingT
	Helper()
}, clock storage.Clock, policies ...risk.Policy) (*risk.Engine, *memory.Store) {
	t.Helper()
	s := memory.MustNew()
	e, err := risk.New(risk.Config{Store: s.Risk(), Clock: clock, Tx: s, Policies: policies})
	require.NoError(t, err)
	return e, s
}

func check(t *testing.T, e *risk.Engine, a risk.Action) risk.Decision {
	t.Helper()
	d, err := e.Check(context.Background(), tenant, a)
	require.NoError(t, err)
	return d
}

func TestConfigValidate(t *testing.T) {
	s := memory.MustNew()
	good := risk.Velocity{Name: "v", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Reject}
	var nilVel *risk.Velocity
	cases := []struct {
		name   string
		cfg    risk.Config
		policy bool // also ErrInvalidPolicy
		says   string
	}{
		{"no store", risk.Config{Policies: []risk.Policy{good}}, false, "no store"},
		{"nil policy", risk.Config{Store: s, Policies: []risk.Policy{nil}}, true, "nil"},
		{"typed nil policy", risk.Config{Store: s, Policies: []risk.Policy{nilVel}}, true, "nil"},
		{"duplicate names", risk.Config{Store: s, Policies: []risk.Policy{good, good}}, true, "two policies"},
		{"empty name", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Reject}}}, true, "name"},
		{"name with slash", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "a/b", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Reject}}}, true, "character"},
		{"bad kind", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "v", Kinds: []string{"coupon claim"}, By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Reject}}}, true, "kind"},
		{"allow outcome", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "v", By: risk.IP, Limit: 1, Window: time.Minute}}}, true, "outcome"},
		{"unknown outcome", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "v", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: 9}}}, true, "outcome"},
		{"zero limit", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "v", By: risk.IP, Window: time.Minute, Outcome: risk.Reject}}}, true, "limit"},
		{"short window", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "v", By: risk.IP, Limit: 1, Window: time.Millisecond, Outcome: risk.Reject}}}, true, "window"},
		{"fractional window", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "v", By: risk.IP, Limit: 1, Window: time.Second + time.Microsecond, Outcome: risk.Reject}}}, true, "window"},
		{"unknown subject", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "v", By: "email", Limit: 1, Window: time.Minute, Outcome: risk.Reject}}}, true, "subject"},
		{"by and key", risk.Config{Store: s, Policies: []risk.Policy{risk.Velocity{Name: "v", By: risk.IP, Key: func(risk.Action) string { return "" }, Limit: 1, Window: time.Minute, Outcome: risk.Reject}}}, true, "not both"},
		{"deny without lists", risk.Config{Store: s, Policies: []risk.Policy{risk.DenyList{Name: "d", Outcome: risk.Reject}}}, true, "no lists"},
		{"deny unknown list", risk.Config{Store: s, Policies: []risk.Policy{risk.DenyList{Name: "d", Lists: []risk.Subject{"email"}, Outcome: risk.Reject}}}, true, "unknown list"},
		{"deny list twice", risk.Config{Store: s, Policies: []risk.Policy{risk.DenyList{Name: "d", Lists: []risk.Subject{risk.Phone, risk.Phone}, Outcome: risk.Reject}}}, true, "twice"},
		{"threshold without min", risk.Config{Store: s, Policies: []risk.Policy{risk.Threshold{Name: "t", Outcome: risk.Review}}}, true, "no minimum"},
		{"threshold without currency", risk.Config{Store: s, Policies: []risk.Policy{risk.Threshold{Name: "t", Min: []money.Amount{{}}, Outcome: risk.Review}}}, true, "currency"},
		{"threshold negative", risk.Config{Store: s, Policies: []risk.Policy{risk.Threshold{Name: "t", Min: []money.Amount{money.MustParse("-1", money.USD)}, Outcome: risk.Review}}}, true, "negative"},
		{"threshold two in one currency", risk.Config{Store: s, Policies: []risk.Policy{risk.Threshold{Name: "t", Min: []money.Amount{money.MustParse("1", money.USD), money.MustParse("2", money.USD)}, Outcome: risk.Review}}}, true, "two minimums"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := risk.New(c.cfg)
			require.Error(t, err)
			assert.Nil(t, e)
			assert.ErrorIs(t, err, risk.ErrInvalidConfig)
			if c.policy {
				assert.ErrorIs(t, err, risk.ErrInvalidPolicy)
			}
			assert.Contains(t, err.Error(), c.says)
		})
	}

	t.Run("every problem is reported", func(t *testing.T) {
		err := risk.Config{Policies: []risk.Policy{risk.Velocity{Name: "", By: "x", Limit: 0, Window: 0}}}.Validate()
		require.Error(t, err)
		for _, want := range []string{"no store", "name", "subject", "limit", "window", "outcome"} {
			assert.Contains(t, err.Error(), want)
		}
	})

	t.Run("pointer policies are accepted", func(t *testing.T) {
		_, err := risk.New(risk.Config{Store: s, Policies: []risk.Policy{&good, &risk.DenyList{Name: "d", Lists: []risk.Subject{risk.User}, Outcome: risk.Reject},
			&risk.Threshold{Name: "t", Min: []money.Amount{money.MustParse("1", money.USD)}, Outcome: risk.Review}}})
		require.NoError(t, err)
	})
}

func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	big := money.MustParse("1000.00", money.USD)
	cases := []struct {
		name    string
		policy  risk.Policy
		prepare func(t *testing.T, e *risk.Engine) // runs before the judged action
		action  risk.Action
		want    risk.Outcome
		detail  string
	}{
		{
			name:   "velocity under the limit allows",
			policy: risk.Velocity{Name: "p", By: risk.IP, Limit: 2, Window: time.Minute, Outcome: risk.Freeze},
			action: risk.Action{Kind: "coupon.claim", IP: "1.2.3.4"},
			want:   risk.Allow,
		},
		{
			name:    "velocity over the limit freezes",
			policy:  risk.Velocity{Name: "p", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Freeze},
			prepare: func(t *testing.T, e *risk.Engine) { check(t, e, risk.Action{Kind: "coupon.claim", IP: "1.2.3.4"}) },
			action:  risk.Action{Kind: "coupon.claim", IP: "1.2.3.4"},
			want:    risk.Freeze,
			detail:  "more than 1 actions per ip in 1m0s",
		},
		{
			name:    "velocity over the limit rejects",
			policy:  risk.Velocity{Name: "p", Kinds: []string{"coupon.redeem"}, By: risk.User, Limit: 1, Window: time.Minute, Outcome: risk.Reject},
			prepare: func(t *testing.T, e *risk.Engine) { check(t, e, risk.Action{Kind: "coupon.redeem", UserID: "u"}) },
			action:  risk.Action{Kind: "coupon.redeem", UserID: "u"},
			want:    risk.Reject,
			detail:  "more than 1 coupon.redeem per user in 1m0s",
		},
		{
			name:    "cash-out at one merchant goes to review",
			policy:  risk.Velocity{Name: "p", Kinds: []string{"coupon.redeem"}, By: risk.Merchant, Limit: 1, Window: time.Minute, Outcome: risk.Review},
			prepare: func(t *testing.T, e *risk.Engine) { check(t, e, risk.Action{Kind: "coupon.redeem", MerchantID: "m"}) },
			action:  risk.Action{Kind: "coupon.redeem", MerchantID: "m", UserID: "other"},
			want:    risk.Review,
		},
		{
			name:    "velocity counts only its kinds",
			policy:  risk.Velocity{Name: "p", Kinds: []string{"coupon.claim"}, By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Freeze},
			prepare: func(t *testing.T, e *risk.Engine) { check(t, e, risk.Action{Kind: "coupon.redeem", IP: "1.2.3.4"}) },
			action:  risk.Action{Kind: "coupon.claim", IP: "1.2.3.4"},
			want:    risk.Allow,
		},
		{
			name:    "velocity skips actions without its subject",
			policy:  risk.Velocity{Name: "p", By: risk.Device, Limit: 1, Window: time.Minute, Outcome: risk.Freeze},
			prepare: func(t *testing.T, e *risk.Engine) { check(t, e, risk.Action{Kind: "coupon.claim", IP: "1.2.3.4"}) },
			action:  risk.Action{Kind: "coupon.claim", IP: "1.2.3.4"},
			want:    risk.Allow,
		},
		{
			name: "velocity with a custom key",
			policy: risk.Velocity{Name: "p", Key: func(a risk.Action) string { return a.UserID + "@" + a.MerchantID },
				Limit: 1, Window: time.Minute, Outcome: risk.Review},
			prepare: func(t *testing.T, e *risk.Engine) {
				check(t, e, risk.Action{Kind: "coupon.redeem", UserID: "u", MerchantID: "m1"})
				check(t, e, risk.Action{Kind: "coupon.redeem", UserID: "u", MerchantID: "m2"})
			},
			action: risk.Action{Kind: "coupon.redeem", UserID: "u", MerchantID: "m1"},
			want:   risk.Review,
			detail: "per key",
		},
		{
			name:   "denied device rejects",
			policy: risk.DenyList{Name: "p", Lists: []risk.Subject{risk.Phone, risk.Device}, Outcome: risk.Reject},
			prepare: func(t *testing.T, e *risk.Engine) {
				require.NoError(t, e.Deny(ctx, tenant, risk.Entry{List: risk.Device, Value: "d1", Reason: "emulator"}))
			},
			action: risk.Action{Kind: "coupon.issue", DeviceID: "d1", Phone: "+1555"},
			want:   risk.Reject,
			detail: "device is on the deny list (emulator)",
		},
		{
			name:   "a value on another list does not match",
			policy: risk.DenyList{Name: "p", Lists: []risk.Subject{risk.Phone, risk.Device}, Outcome: risk.Reject},
			prepare: func(t *testing.T, e *risk.Engine) {
				require.NoError(t, e.Deny(ctx, tenant, risk.Entry{List: risk.User, Value: "d1"}))
			},
			action: risk.Action{Kind: "coupon.issue", DeviceID: "d1", UserID: "d1"},
			want:   risk.Allow,
		},
		{
			name:   "denied user freezes",
			policy: risk.DenyList{Name: "p", Lists: []risk.Subject{risk.User}, Outcome: risk.Freeze},
			prepare: func(t *testing.T, e *risk.Engine) {
				require.NoError(t, e.Deny(ctx, tenant, risk.Entry{List: risk.User, Value: "u1"}))
			},
			action: risk.Action{Kind: "points.redeem", UserID: "u1"},
			want:   risk.Freeze,
			detail: "user is on the deny list",
		},
		{
			name:   "high value goes to review",
			policy: risk.Threshold{Name: "p", Min: []money.Amount{big}, Outcome: risk.Review},
			action: risk.Action{Kind: "coupon.redeem", Amount: big},
			want:   risk.Review,
			detail: "amount 1000.00 USD is at least 1000.00 USD",
		},
		{
			name:   "below the threshold allows",
			policy: risk.Threshold{Name: "p", Min: []money.Amount{big}, Outcome: risk.Review},
			action: risk.Action{Kind: "coupon.redeem", Amount: money.MustParse("999.99", money.USD)},
			want:   risk.Allow,
		},
		{
			name:   "no amount is not judged",
			policy: risk.Threshold{Name: "p", Min: []money.Amount{big}, Outcome: risk.Review},
			action: risk.Action{Kind: "coupon.redeem"},
			want:   risk.Allow,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := newEngine(t, storage.NewFakeClock(t0), c.policy)
			if c.prepare != nil {
				c.prepare(t, e)
			}
			assessed, err := e.Assess(ctx, tenant, c.action)
			require.NoError(t, err)
			d := check(t, e, c.action)
			assert.Equal(t, c.want, d.Outcome)
			assert.Equal(t, c.want, assessed.Outcome, "Assess foresees Check")
			assert.Equal(t, c.want == risk.Allow, d.Allowed())
			assert.Equal(t, c.want >= risk.Reject, d.Refused())
			if c.want == risk.Allow {
				assert.Empty(t, d.Reasons)
				return
			}
			require.Len(t, d.Reasons, 1)
			assert.Equal(t, "p", d.Reasons[0].Policy)
			assert.Equal(t, c.want, d.Reasons[0].Outcome)
			assert.Contains(t, d.Reasons[0].Detail, c.detail)
		})
	}
}

func TestMostSevereOutcomeWinsAndReasonsKeepPolicyOrder(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t, storage.NewFakeClock(t0),
		risk.Threshold{Name: "high-value", Min: []money.Amount{money.MustParse("100", money.USD)}, Outcome: risk.Review},
		risk.DenyList{Name: "denied-phone", Lists: []risk.Subject{risk.Phone}, Outcome: risk.Reject},
		risk.Velocity{Name: "per-ip", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Freeze},
	)
	require.NoError(t, e.Deny(ctx, tenant, risk.Entry{List: risk.Phone, Value: "+1555"}))
	a := risk.Action{Kind: "coupon.redeem", IP: "1.2.3.4", Phone: "+1555", Amount: money.MustParse("150", money.USD)}
	d := check(t, e, a)
	assert.Equal(t, risk.Reject, d.Outcome, "the velocity hit was still counted: attempts count")
	assert.Equal(t, []string{"high-value", "denied-phone"}, policies(d))
	d = check(t, e, a)
	assert.Equal(t, risk.Freeze, d.Outcome)
	assert.Equal(t, []string{"high-value", "denied-phone", "per-ip"}, policies(d))
	assert.Equal(t, "per-ip: freeze: more than 1 actions per ip in 1m0s", d.Reasons[2].String())
}

func policies(d risk.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.Policy)
	}
	return out
}

func TestWindowRollover(t *testing.T) {
	clock := storage.NewFakeClock(t0.Add(4*time.Minute + 59*time.Second)) // the last second of 10:00-10:05
	e, _ := newEngine(t, clock, risk.Velocity{Name: "claims-per-ip", By: risk.IP, Limit: 2, Window: 5 * time.Minute, Outcome: risk.Freeze})
	a := risk.Action{Kind: "coupon.claim", IP: "203.0.113.7"}
	got := func() risk.Outcome { return check(t, e, a).Outcome }
	assert.Equal(t, []risk.Outcome{risk.Allow, risk.Allow, risk.Freeze}, []risk.Outcome{got(), got(), got()})
	clock.Advance(999 * time.Millisecond) // 10:04:59.999, same window
	assert.Equal(t, risk.Freeze, got())
	clock.Advance(time.Millisecond) // 10:05:00, a new window
	assert.Equal(t, []risk.Outcome{risk.Allow, risk.Allow, risk.Freeze}, []risk.Outcome{got(), got(), got()})
	clock.Advance(5 * time.Minute)
	assert.Equal(t, risk.Allow, got())

	// An explicit At picks its own window, whatever the clock says.
	past := a
	past.At = t0.Add(time.Minute)
	assert.Equal(t, risk.Freeze, check(t, e, past).Outcome)
	past.At = t0.Add(-time.Second)
	assert.Equal(t, risk.Allow, check(t, e, past).Outcome)
}

func TestDenyListExpiry(t *testing.T) {
	ctx := context.Background()
	clock := storage.NewFakeClock(t0)
	e, _ := newEngine(t, clock, risk.DenyList{Name: "denied", Lists: []risk.Subject{risk.Device}, Outcome: risk.Reject})
	require.NoError(t, e.Deny(ctx, tenant, risk.Entry{List: risk.Device, Value: "d1", Reason: "fraud ring", ExpiresAt: t0.Add(time.Hour)}))
	a := risk.Action{Kind: "coupon.claim", DeviceID: "d1"}

	en, ok, err := e.Denied(ctx, tenant, risk.Device, "d1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "fraud ring", en.Reason)
	assert.True(t, en.CreatedAt.Equal(t0), "CreatedAt comes from the clock")
	assert.Equal(t, risk.Reject, check(t, e, a).Outcome)

	clock.Advance(time.Hour - time.Microsecond)
	assert.Equal(t, risk.Reject, check(t, e, a).Outcome)
	clock.Advance(time.Microsecond)
	assert.Equal(t, risk.Allow, check(t, e, a).Outcome, "no longer in force at its expiry")
	_, ok, err = e.Denied(ctx, tenant, risk.Device, "d1")
	require.NoError(t, err)
	assert.False(t, ok)

	n, err := e.Prune(ctx, clock.Now())
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)

	require.NoError(t, e.Deny(ctx, tenant, risk.Entry{List: risk.Device, Value: "d1"}))
	assert.Equal(t, risk.Reject, check(t, e, a).Outcome)
	removed, err := e.Undeny(ctx, tenant, risk.Device, "d1")
	require.NoError(t, err)
	assert.True(t, removed)
	assert.Equal(t, risk.Allow, check(t, e, a).Outcome)
	removed, err = e.Undeny(ctx, tenant, risk.Device, "d1")
	require.NoError(t, err)
	assert.False(t, removed)
}

func TestTenantIsolation(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t, storage.NewFakeClock(t0),
		risk.Velocity{Name: "per-user", By: risk.User, Limit: 1, Window: time.Minute, Outcome: risk.Reject},
		risk.DenyList{Name: "denied", Lists: []risk.Subject{risk.Phone}, Outcome: risk.Reject},
	)
	require.NoError(t, e.Deny(ctx, "shop-1", risk.Entry{List: risk.Phone, Value: "+1555"}))
	a := risk.Action{Kind: "coupon.claim", UserID: "u1"}
	d, err := e.Check(ctx, "shop-1", a)
	require.NoError(t, err)
	assert.Equal(t, risk.Allow, d.Outcome)
	d, err = e.Check(ctx, "shop-1", a)
	require.NoError(t, err)
	assert.Equal(t, risk.Reject, d.Outcome)

	d, err = e.Check(ctx, "shop-2", risk.Action{Kind: "coupon.claim", UserID: "u1", Phone: "+1555"})
	require.NoError(t, err)
	assert.Equal(t, risk.Allow, d.Outcome, "shop-2 has its own counters and lists")

	_, err = e.Check(ctx, "", a)
	require.ErrorIs(t, err, storage.ErrInvalidTenant)
	_, err = e.Assess(ctx, "a b", a)
	require.ErrorIs(t, err, storage.ErrInvalidTenant)
	require.ErrorIs(t, e.Deny(ctx, "", risk.Entry{List: risk.Phone, Value: "x"}), storage.ErrInvalidTenant)
	_, err = e.Undeny(ctx, "", risk.Phone, "x")
	require.ErrorIs(t, err, storage.ErrInvalidTenant)
	_, _, err = e.Denied(ctx, "", risk.Phone, "x")
	require.ErrorIs(t, err, storage.ErrInvalidTenant)
}

func TestBadInputChangesNothing(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t, storage.NewFakeClock(t0),
		risk.Velocity{Name: "per-ip", By: risk.IP, Limit: 5, Window: time.Minute, Outcome: risk.Freeze},
		risk.Velocity{Name: "custom", Key: func(a risk.Action) string { return a.UserID + a.UserID }, Limit: 5, Window: time.Minute, Outcome: risk.Review},
		risk.Threshold{Name: "high", Kinds: []string{"coupon.redeem"}, Min: []money.Amount{money.MustParse("100", money.USD)}, Outcome: risk.Review},
	)
	long := strings.Repeat("x", risk.MaxValueLen+1)
	half := strings.Repeat("x", risk.MaxValueLen/2+1)
	cases := []struct {
		name string
		a    risk.Action
	}{
		{"no kind", risk.Action{IP: "ip"}},
		{"kind with a space", risk.Action{Kind: "coupon claim", IP: "ip"}},
		{"kind too long", risk.Action{Kind: strings.Repeat("k", risk.MaxKindLen+1), IP: "ip"}},
		{"ip too long", risk.Action{Kind: "coupon.claim", IP: long}},
		{"phone too long", risk.Action{Kind: "coupon.claim", IP: "ip", Phone: long}},
		{"before 1970", risk.Action{Kind: "coupon.claim", IP: "ip", At: time.Unix(-1, 0)}},
		{"custom key too long", risk.Action{Kind: "coupon.claim", IP: "ip", UserID: half}},
		{"currency without threshold", risk.Action{Kind: "coupon.redeem", IP: "ip", Amount: money.MustParse("500", money.EUR)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Check(ctx, tenant, c.a)
			require.ErrorIs(t, err, risk.ErrInvalidAction)
			_, err = e.Assess(ctx, tenant, c.a)
			require.ErrorIs(t, err, risk.ErrInvalidAction)
		})
	}
	for range 5 {
		assert.Equal(t, risk.Allow, check(t, e, risk.Action{Kind: "coupon.claim", IP: "ip"}).Outcome, "no failed call was counted")
	}
	assert.Equal(t, risk.Freeze, check(t, e, risk.Action{Kind: "coupon.claim", IP: "ip"}).Outcome)

	for _, en := range []risk.Entry{
		{List: "email", Value: "x"},
		{List: risk.Phone},
		{List: risk.Phone, Value: long},
		{List: risk.Phone, Value: "x", Reason: strings.Repeat("r", risk.MaxReasonLen+1)},
		{List: risk.Phone, Value: "x", ExpiresAt: t0},
	} {
		err := e.Deny(ctx, tenant, en)
		require.ErrorIs(t, err, risk.ErrInvalidEntry)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
	}
	_, err := e.Undeny(ctx, tenant, "email", "x")
	require.ErrorIs(t, err, risk.ErrInvalidEntry)
	_, _, err = e.Denied(ctx, tenant, risk.Phone, "")
	require.ErrorIs(t, err, risk.ErrInvalidEntry)
	_, ok, err := e.Denied(ctx, tenant, risk.Phone, "x")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestAssessCountsNothing(t *testing.T) {
	e, _ := newEngine(t, storage.NewFakeClock(t0), risk.Velocity{Name: "p", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Reject})
	a := risk.Action{Kind: "coupon.claim", IP: "ip"}
	for range 3 {
		d, err := e.Assess(context.Background(), tenant, a)
		require.NoError(t, err)
		assert.Equal(t, risk.Allow, d.Outcome)
	}
	assert.Equal(t, risk.Allow, check(t, e, a).Outcome)
	d, err := e.Assess(context.Background(), tenant, a)
	require.NoError(t, err)
	assert.Equal(t, risk.Reject, d.Outcome)
}

func TestCountsJoinTheCallersTransaction(t *testing.T) {
	ctx := context.Background()
	e, s := newEngine(t, storage.NewFakeClock(t0), risk.Velocity{Name: "p", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Reject})
	a := risk.Action{Kind: "coupon.claim", IP: "ip"}
	boom := errors.New("claim failed")
	err := s.InTx(ctx, func(ctx context.Context) error {
		d, err := e.Check(ctx, tenant, a)
		if err != nil {
			return err
		}
		assert.Equal(t, risk.Allow, d.Outcome)
		return boom // the claim failed after the check
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, risk.Allow, check(t, e, a).Outcome, "the rolled-back attempt left no count")
	assert.Equal(t, risk.Reject, check(t, e, a).Outcome)
}

// failingStore fails every velocity hit after the first n.
type failingStore struct {
	risk.Store
	n    atomic.Int64
	fail error
}

func (f *failingStore) HitVelocity(ctx context.Context, tenant storage.TenantID, b risk.Bucket, limit int64) (int64, bool, error) {
	if f.n.Add(-1) < 0 {
		return 0, false, f.fail
	}
	return f.Store.HitVelocity(ctx, tenant, b, limit)
}

func TestStoreErrorLeavesNoPartialCounts(t *testing.T) {
	ctx := context.Background()
	s := memory.MustNew()
	fs := &failingStore{Store: s.Risk(), fail: fmt.Errorf("disk on fire: %w", storage.ErrLockTimeout)}
	fs.n.Store(1)
	policies := []risk.Policy{
		risk.Velocity{Name: "per-ip", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Reject},
		risk.Velocity{Name: "per-user", By: risk.User, Limit: 1, Window: time.Minute, Outcome: risk.Reject},
	}
	e, err := risk.New(risk.Config{Store: fs, Clock: storage.NewFakeClock(t0), Tx: s, Policies: policies})
	require.NoError(t, err)
	a := risk.Action{Kind: "coupon.claim", IP: "ip", UserID: "u"}
	_, err = e.Check(ctx, tenant, a)
	require.ErrorIs(t, err, storage.ErrLockTimeout)
	assert.Contains(t, err.Error(), `policy "per-user"`)

	plain, err := risk.New(risk.Config{Store: s.Risk(), Clock: storage.NewFakeClock(t0), Policies: policies})
	require.NoError(t, err)
	d, err := plain.Check(ctx, tenant, a)
	require.NoError(t, err)
	assert.Equal(t, risk.Allow, d.Outcome, "the per-ip hit of the failed check was rolled back")
}

func TestConcurrentChecksAdmitExactlyTheLimit(t *testing.T) {
	e, _ := newEngine(t, storage.NewFakeClock(t0), risk.Velocity{Name: "p", By: risk.IP, Limit: 10, Window: 5 * time.Minute, Outcome: risk.Freeze})
	var allowed, frozen atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 4 {
				d, err := e.Check(context.Background(), tenant, risk.Action{Kind: "coupon.claim", IP: "ip"})
				if !assert.NoError(t, err) {
					return
				}
				if d.Allowed() {
					allowed.Add(1)
				} else {
					frozen.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(10), allowed.Load())
	assert.Equal(t, int64(32*4-10), frozen.Load())
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	clock := storage.NewFakeClock(t0)
	e, _ := newEngine(t, clock, risk.Velocity{Name: "p", By: risk.IP, Limit: 1, Window: time.Minute, Outcome: risk.Reject})
	check(t, e, risk.Action{Kind: "coupon.claim", IP: "a"})
	check(t, e, risk.Action{Kind: "coupon.claim", IP: "b"})
	n, err := e.Prune(ctx, t0.Add(59*time.Second))
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
	n, err = e.Prune(ctx, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	_, err = e.Prune(ctx, time.Time{})
	require.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func TestOutcomeText(t *testing.T) {
	for o := risk.Allow; o <= risk.Freeze; o++ {
		b, err := o.MarshalText()
		require.NoError(t, err)
		var back risk.Outcome
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, o, back)
	}
	_, err := risk.Outcome(7).MarshalText()
	require.Error(t, err)
	assert.Equal(t, "Outcome(7)", risk.Outcome(7).String())
	var o risk.Outcome
	require.Error(t, o.UnmarshalText([]byte("maybe")))
	assert.True(t, risk.Allow < risk.Review && risk.Review < risk.Reject && risk.Reject < risk.Freeze, "severity order")
}
