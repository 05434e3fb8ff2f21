package coupon_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// Shared set-up of the package's tests: a service over a fresh memory
// store at a fake clock, and valid templates that a test adjusts with
// options, so that each test states only what is particular to it.

const tenant storage.TenantID = "shop"

var t0 = time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC)

func usd(s string) money.Amount { return money.MustParse(s, money.USD) }

// tplOption adjusts one field of a template fixture.
type tplOption func(*coupon.Template)

// tenOff returns a valid template "10 off 50": a threshold benefit, valid
// for 7 days in Shanghai time, stock 100, one per user; opts adjust it.
func tenOff(id string, opts ...tplOption) coupon.Template {
	return template(coupon.Template{
		Tenant: tenant, ID: id, Name: "10 off 50",
		Benefit:  coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, Amount: usd("10.00"), MinSpend: usd("50.00")},
		Validity: coupon.Validity{Days: 7, TimeZone: "Asia/Shanghai"},
		Limits:   coupon.Limits{Stock: 100, PerUser: 1},
	}, opts)
}

// oneDay returns a valid template of benefit b with no limits, claimable
// until a day after t0; opts adjust it.
func oneDay(id string, b coupon.Benefit, opts ...tplOption) coupon.Template {
	return template(coupon.Template{Tenant: tenant, ID: id, Benefit: b, Validity: coupon.Validity{End: t0.Add(24 * time.Hour)}}, opts)
}

func template(tpl coupon.Template, opts []tplOption) coupon.Template {
	for _, o := range opts {
		o(&tpl)
	}
	return tpl
}

// percentOff is pct percent off, capped at cap dollars.
func percentOff(pct int64, capUSD string) coupon.Benefit {
	return coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(pct), Cap: usd(capUSD)}
}

func freeShipping() coupon.Benefit {
	return coupon.Benefit{Kind: coupon.KindFreeShipping, Currency: money.USD}
}

// limits replaces all the template's limits.
func limits(l coupon.Limits) tplOption { return func(t *coupon.Template) { t.Limits = l } }

// perUser changes only the per-user limit.
func perUser(n int64) tplOption { return func(t *coupon.Template) { t.Limits.PerUser = n } }

// validity replaces the template's validity.
func validity(v coupon.Validity) tplOption { return func(t *coupon.Template) { t.Validity = v } }

func startsAt(at time.Time) tplOption { return func(t *coupon.Template) { t.Validity.Start = at } }

func automatic(t *coupon.Template) { t.Auto = true }

func inCategories(cats ...string) tplOption {
	return func(t *coupon.Template) { t.Scope = coupon.Scope{Categories: cats} }
}

func conditions(cs ...coupon.Condition) tplOption {
	return func(t *coupon.Template) { t.Conditions = cs }
}

func refund(p coupon.RefundPolicy) tplOption { return func(t *coupon.Template) { t.Refund = p } }

type fixture struct {
	svc   *coupon.Service
	mem   *memory.Store
	store coupon.Store
	clock *storage.FakeClock
}

// newFixture returns a service (with a rules environment) over a fresh
// memory store whose fake clock stands at t0, holding the templates tpls.
func newFixture(t testing.TB, tpls ...coupon.Template) *fixture {
	t.Helper()
	clock := storage.NewFakeClock(t0)
	mem, err := memory.New(memory.Options{Clock: clock, LockWait: 2 * time.Second})
	require.NoError(t, err)
	env, err := rules.NewEnv()
	require.NoError(t, err)
	svc, err := coupon.New(coupon.Config{Store: mem.Coupons(), Tx: mem, Clock: clock, Rules: env})
	require.NoError(t, err)
	f := &fixture{svc: svc, mem: mem, store: mem.Coupons(), clock: clock}
	for _, tpl := range tpls {
		f.create(t, tpl)
	}
	return f
}

// newService returns a second service over the fixture's transactor and
// clock, and over its store unless cfg names one.
func (f *fixture) newService(t testing.TB, cfg coupon.Config) *coupon.Service {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = f.store
	}
	cfg.Tx, cfg.Clock = f.mem, f.clock
	svc, err := coupon.New(cfg)
	require.NoError(t, err)
	return svc
}

func (f *fixture) create(t testing.TB, tpl coupon.Template) coupon.Template {
	t.Helper()
	out, err := f.svc.CreateTemplate(context.Background(), tpl)
	require.NoError(t, err)
	return out
}

func (f *fixture) claim(t testing.TB, tpl, user string) coupon.Coupon {
	t.Helper()
	c, err := f.svc.Claim(context.Background(), coupon.ClaimRequest{Tenant: tenant, TemplateID: tpl, UserID: user})
	require.NoError(t, err)
	return c
}

// lock locks the coupon for the order with no discount or cart.
func (f *fixture) lock(t testing.TB, couponID, orderID string) coupon.LockResult {
	t.Helper()
	r, err := f.svc.Lock(context.Background(), coupon.LockRequest{Tenant: tenant, CouponID: couponID, OrderID: orderID})
	require.NoError(t, err)
	return r
}

// lockReq is a request to lock the coupon for the order with a discount
// of so many dollars.
func lockReq(couponID, orderID, discount string) coupon.LockRequest {
	return coupon.LockRequest{Tenant: tenant, CouponID: couponID, OrderID: orderID, Discount: usd(discount)}
}

func (f *fixture) use(t testing.TB, orderID string) []coupon.Coupon {
	t.Helper()
	used, err := f.svc.Use(context.Background(), order(orderID))
	require.NoError(t, err)
	return used
}

// claimLockUse claims a coupon of the template for the user, locks it for
// the order and uses it.
func (f *fixture) claimLockUse(t testing.TB, tpl, user, orderID string) coupon.Coupon {
	t.Helper()
	c := f.claim(t, tpl, user)
	f.lock(t, c.ID, orderID)
	f.use(t, orderID)
	return c
}

func (f *fixture) stats(t testing.TB, tpl string) coupon.Stats {
	t.Helper()
	st, err := f.svc.Stats(context.Background(), tenant, tpl)
	require.NoError(t, err)
	return st
}

func (f *fixture) audit(t testing.TB, couponID string) []coupon.AuditEntry {
	t.Helper()
	trail, err := f.svc.Audit(context.Background(), tenant, couponID)
	require.NoError(t, err)
	return trail
}

func order(id string) coupon.OrderRequest { return coupon.OrderRequest{Tenant: tenant, OrderID: id} }

// snapshot is everything a refused command must leave alone.
type snapshot struct {
	c      coupon.Coupon
	audit  int
	outbox int
}

func (f *fixture) snap(t testing.TB, id string) snapshot {
	t.Helper()
	ctx := context.Background()
	c, err := f.store.Coupon(ctx, tenant, id)
	require.NoError(t, err)
	a, err := f.store.Audit(ctx, tenant, id)
	require.NoError(t, err)
	n := 0
	for p := range storage.OutboxPartitions {
		ms, err := f.mem.PendingOutbox(ctx, p, 1_000_000)
		require.NoError(t, err)
		n += len(ms)
	}
	return snapshot{c: c, audit: len(a), outbox: n}
}

func cart(lines ...coupon.Line) coupon.Cart {
	c := coupon.Cart{Currency: money.USD, Subtotal: money.Zero(money.USD)}
	for _, l := range lines {
		c.Subtotal, _ = c.Subtotal.Add(l.Amount)
		c.Lines = append(c.Lines, l)
	}
	return c
}
