package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

func couponStore(t *testing.T, s Store) coupon.Store {
	t.Helper()
	return s.Coupons()
}

var cpT0 = time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC)

func cpUSD(s string) money.Amount { return money.MustParse(s, money.USD) }

// cpTemplate exercises every part of a template that must survive storage.
func cpTemplate(tenant storage.TenantID, id string) coupon.Template {
	return coupon.Template{
		Tenant: tenant, ID: id, Name: "Spend 100 save 20, tiers",
		Benefit: coupon.Benefit{
			Kind: coupon.KindTiered, Currency: money.USD, TierBasis: coupon.TierBySpend,
			Tiers: []coupon.Tier{
				{Min: 10000, Off: cpUSD("20.00")},
				{Min: 30000, Percent: decimal.RequireFromString("12.5")},
			},
			Cap: cpUSD("500.00"), MinSpend: cpUSD("100.00"), Mode: coupon.ModeSpread,
		},
		Scope:      coupon.Scope{Categories: []string{"shoes", "bags"}, ExcludeSKUs: []string{"S-9"}},
		Stacking:   coupon.Stacking{Group: "store", Priority: 2},
		Funding:    coupon.Funding{{Party: coupon.PartyPlatform, Ratio: decimal.RequireFromString("0.3")}, {Party: coupon.PartyMerchant, Ratio: decimal.RequireFromString("0.7")}},
		Conditions: []coupon.Condition{{Name: "app", Expr: `order.channel == "app"`, Reason: "app only", On: coupon.PhaseUse}},
		Validity:   coupon.Validity{Start: cpT0.Add(-time.Hour), End: cpT0.Add(30 * 24 * time.Hour), Days: 7, TimeZone: "Asia/Shanghai"},
		Limits:     coupon.Limits{Stock: 100, PerUser: 1, PerOrder: 1, Budget: cpUSD("1000.00")},
		Refund:     coupon.RefundRestore,
		CreatedAt:  cpT0,
	}
}

func cpCoupon(tenant storage.TenantID, id, user, code string) coupon.Coupon {
	return coupon.Coupon{
		Tenant: tenant, ID: id, TemplateID: "t1", UserID: user, Code: code, State: coupon.StateActivated,
		ValidFrom: cpT0, ValidUntil: cpT0.Add(7 * 24 * time.Hour), IssuedAt: cpT0, UpdatedAt: cpT0, Version: 1,
	}
}

// cpService runs package coupon over the adapter.
func cpService(t *testing.T, s Store, clock storage.Clock) *coupon.Service {
	t.Helper()
	env, err := rules.NewEnv()
	require.NoError(t, err)
	svc, err := coupon.New(coupon.Config{Store: couponStore(t, s), Tx: s, Clock: clock, Rules: env})
	require.NoError(t, err)
	return svc
}

// RunCoupon checks the store of package coupon, and the coupon service's
// guarantees that rest on it: stock and per-user caps under many
// concurrent claimers on two instances, one lock per coupon.
func RunCoupon(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("templates round-trip and are scoped by tenant", func(t *testing.T) {
		cs := couponStore(t, h.Open(t))
		tpl := cpTemplate(tenantA, "t1")
		require.NoError(t, cs.CreateTemplate(ctx, tpl))
		require.ErrorIs(t, cs.CreateTemplate(ctx, tpl), storage.ErrDuplicate)
		got, err := cs.Template(ctx, tenantA, "t1")
		require.NoError(t, err)
		assert.Equal(t, tpl.Benefit.Currency, got.Benefit.Currency)
		assert.True(t, got.Benefit.Cap.Equal(tpl.Benefit.Cap))
		assert.True(t, got.Limits.Budget.Equal(tpl.Limits.Budget))
		require.Len(t, got.Benefit.Tiers, 2)
		assert.True(t, got.Benefit.Tiers[0].Off.Equal(cpUSD("20.00")))
		assert.True(t, got.Benefit.Tiers[1].Percent.Equal(decimal.RequireFromString("12.5")))
		assert.True(t, got.Funding[1].Ratio.Equal(decimal.RequireFromString("0.7")))
		assert.Equal(t, tpl.Scope, got.Scope)
		assert.Equal(t, tpl.Conditions, got.Conditions)
		assert.True(t, got.Validity.Start.Equal(tpl.Validity.Start))
		assert.True(t, got.Validity.End.Equal(tpl.Validity.End))
		assert.Equal(t, tpl.Validity.Days, got.Validity.Days)
		assert.Equal(t, tpl.Validity.TimeZone, got.Validity.TimeZone)
		assert.Equal(t, tpl.Stacking, got.Stacking)
		assert.Equal(t, tpl.Refund, got.Refund)
		assert.True(t, got.CreatedAt.Equal(tpl.CreatedAt))
		_, err = cs.Template(ctx, tenantB, "t1")
		require.ErrorIs(t, err, storage.ErrNotFound)

		auto := cpTemplate(tenantA, "a1")
		auto.Auto = true
		require.NoError(t, cs.CreateTemplate(ctx, auto))
		autos, err := cs.AutoTemplates(ctx, tenantA)
		require.NoError(t, err)
		require.Len(t, autos, 1)
		assert.Equal(t, "a1", autos[0].ID)
		autos, err = cs.AutoTemplates(ctx, tenantB)
		require.NoError(t, err)
		assert.Empty(t, autos)
	})

	t.Run("coupons: a rolled-back insert frees its IDs and codes and keeps the rest", func(t *testing.T) {
		s := h.Open(t)
		cs := couponStore(t, s)
		_, err := cs.InsertCoupons(ctx, tenantA, []coupon.Coupon{cpCoupon(tenantA, "old", "u1", "OLDOLD")})
		require.NoError(t, err)
		boom := errors.New("boom")
		err = s.InTx(ctx, func(ctx context.Context) error {
			// The second n1 is rejected for its ID; its code is old's, and
			// the rollback must leave old's code alone.
			rej, err := cs.InsertCoupons(ctx, tenantA, []coupon.Coupon{
				cpCoupon(tenantA, "n1", "u2", "NEWAAA"), cpCoupon(tenantA, "n1", "", "OLDOLD"), cpCoupon(tenantA, "n2", "", ""),
			})
			require.NoError(t, err)
			assert.Equal(t, []int{1}, rej)
			rej, err = cs.InsertCoupons(ctx, tenantA, []coupon.Coupon{cpCoupon(tenantA, "n3", "u2", "NEWBBB")})
			require.NoError(t, err)
			assert.Empty(t, rej)
			require.NoError(t, cs.AppendAudit(ctx, coupon.AuditEntry{Tenant: tenantA, EventID: "a1", CouponID: "n1", TemplateID: "t1",
				Event: coupon.EventLock, From: coupon.StateActivated, To: coupon.StateLocked, Actor: "u2", OrderID: "o1", At: cpT0}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		for _, id := range []string{"n1", "n2", "n3"} {
			_, err := cs.Coupon(ctx, tenantA, id)
			require.ErrorIs(t, err, storage.ErrNotFound, id)
		}
		_, err = cs.CouponByCode(ctx, tenantA, "NEWAAA")
		require.ErrorIs(t, err, storage.ErrNotFound)
		got, err := cs.CouponByCode(ctx, tenantA, "OLDOLD")
		require.NoError(t, err)
		assert.Equal(t, "old", got.ID)
		found, err := cs.FindCoupons(ctx, coupon.Query{Tenant: tenantA, UserID: "u2"})
		require.NoError(t, err)
		assert.Empty(t, found)
		// The IDs and codes are free again, and the new rows are whole.
		rej, err := cs.InsertCoupons(ctx, tenantA, []coupon.Coupon{cpCoupon(tenantA, "n3", "", "NEWAAA"), cpCoupon(tenantA, "n1", "", "NEWBBB")})
		require.NoError(t, err)
		assert.Empty(t, rej)
		got, err = cs.CouponByCode(ctx, tenantA, "NEWBBB")
		require.NoError(t, err)
		assert.Equal(t, "n1", got.ID)
		assert.Empty(t, got.UserID)
		trail, err := cs.Audit(ctx, tenantA, "n1")
		require.NoError(t, err)
		assert.Empty(t, trail)
	})

	t.Run("coupons: every field survives a batch insert", func(t *testing.T) {
		s := h.Open(t)
		cs := couponStore(t, s)
		full := cpCoupon(tenantA, "full", "u1", "FULL01")
		full.State, full.FrozenFrom, full.OrderID = coupon.StateFrozen, coupon.StateLocked, "o1"
		full.ValidFrom, full.ValidUntil = cpT0.Add(time.Hour+123*time.Microsecond), cpT0.Add(48*time.Hour)
		full.LockedUntil = cpT0.Add(15 * time.Minute)
		full.Discount, full.BudgetCut = cpUSD("12.34"), true
		full.IssuedAt, full.UpdatedAt, full.Version = cpT0.Add(time.Second), cpT0.Add(2*time.Second), 7
		bare := coupon.Coupon{Tenant: tenantA, ID: "bare", TemplateID: "t2", State: coupon.StateUnactivated,
			IssuedAt: cpT0.Add(3 * time.Second), UpdatedAt: cpT0.Add(4 * time.Second), Version: 1}
		rej, err := cs.InsertCoupons(ctx, tenantA, []coupon.Coupon{full, bare})
		require.NoError(t, err)
		assert.Empty(t, rej)
		for _, want := range []coupon.Coupon{full, bare} {
			got, err := cs.Coupon(ctx, tenantA, want.ID)
			require.NoError(t, err)
			assert.Equal(t, want.Tenant, got.Tenant)
			assert.Equal(t, want.TemplateID, got.TemplateID)
			assert.Equal(t, want.UserID, got.UserID)
			assert.Equal(t, want.Code, got.Code)
			assert.Equal(t, want.State, got.State)
			assert.Equal(t, want.FrozenFrom, got.FrozenFrom)
			assert.Equal(t, want.OrderID, got.OrderID)
			assert.Equal(t, want.BudgetCut, got.BudgetCut)
			assert.Equal(t, want.Version, got.Version)
			assert.True(t, want.Discount.Equal(got.Discount), "%s: discount %v, want %v", want.ID, got.Discount, want.Discount)
			for name, ts := range map[string][2]time.Time{
				"valid from": {want.ValidFrom, got.ValidFrom}, "valid until": {want.ValidUntil, got.ValidUntil},
				"locked until": {want.LockedUntil, got.LockedUntil}, "issued": {want.IssuedAt, got.IssuedAt}, "updated": {want.UpdatedAt, got.UpdatedAt},
			} {
				assert.True(t, ts[0].Equal(ts[1]), "%s: %s %v, want %v", want.ID, name, ts[1], ts[0])
			}
		}
	})

	t.Run("coupons: insert, unique codes, conditional update, queries", func(t *testing.T) {
		s := h.Open(t)
		cs := couponStore(t, s)
		c1 := cpCoupon(tenantA, "c1", "u1", "")
		c2 := cpCoupon(tenantA, "c2", "u1", "ABCDEF")
		c3 := cpCoupon(tenantA, "c3", "u2", "")
		rej, err := cs.InsertCoupons(ctx, tenantA, []coupon.Coupon{c1, c2, c3})
		require.NoError(t, err)
		assert.Empty(t, rej)
		// a taken code and a taken ID are rejected, the rest stored, and the
		// transaction goes on (no failed statement on PostgreSQL)
		err = s.InTx(ctx, func(ctx context.Context) error {
			rej, err := cs.InsertCoupons(ctx, tenantA, []coupon.Coupon{
				cpCoupon(tenantA, "c4", "", "ABCDEF"), cpCoupon(tenantA, "c5", "", "GHJKMN"), cpCoupon(tenantA, "c1", "", "PQRSTU"),
			})
			if err != nil {
				return err
			}
			assert.Equal(t, []int{0, 2}, rej)
			_, err = cs.Coupon(ctx, tenantA, "c5")
			return err
		})
		require.NoError(t, err)
		_, err = cs.Coupon(ctx, tenantA, "c4")
		require.ErrorIs(t, err, storage.ErrNotFound)
		// the same code in another tenant is fine
		rej, err = cs.InsertCoupons(ctx, tenantB, []coupon.Coupon{cpCoupon(tenantB, "c2", "u1", "ABCDEF")})
		require.NoError(t, err)
		assert.Empty(t, rej)

		got, err := cs.CouponByCode(ctx, tenantA, "ABCDEF")
		require.NoError(t, err)
		assert.Equal(t, "c2", got.ID)
		assert.True(t, got.ValidUntil.Equal(c2.ValidUntil))
		_, err = cs.CouponByCode(ctx, tenantA, "ZZZZZZ")
		require.ErrorIs(t, err, storage.ErrNotFound)

		locked := c1
		locked.State, locked.Version, locked.OrderID = coupon.StateLocked, 2, "o1"
		locked.LockedUntil = cpT0.Add(15 * time.Minute)
		locked.Discount, locked.BudgetCut = cpUSD("12.34"), true
		require.NoError(t, cs.UpdateCoupon(ctx, locked, coupon.StateActivated, 1))
		require.ErrorIs(t, cs.UpdateCoupon(ctx, locked, coupon.StateActivated, 1), storage.ErrConflict, "stale state and version")
		wrong := locked
		wrong.Version = 3
		require.ErrorIs(t, cs.UpdateCoupon(ctx, wrong, coupon.StateLocked, 1), storage.ErrConflict, "stale version")
		missing := cpCoupon(tenantA, "nope", "u1", "")
		require.ErrorIs(t, cs.UpdateCoupon(ctx, missing, coupon.StateActivated, 1), storage.ErrNotFound)
		got, err = cs.Coupon(ctx, tenantA, "c1")
		require.NoError(t, err)
		assert.Equal(t, coupon.StateLocked, got.State)
		assert.Equal(t, int64(2), got.Version)
		assert.Equal(t, "o1", got.OrderID)
		assert.True(t, got.Discount.Equal(cpUSD("12.34")), got.Discount.String())
		assert.True(t, got.BudgetCut)
		assert.True(t, got.LockedUntil.Equal(locked.LockedUntil))

		ids := func(q coupon.Query) []string {
			t.Helper()
			q.Tenant = tenantA
			found, err := cs.FindCoupons(ctx, q)
			require.NoError(t, err)
			out := []string{}
			for _, c := range found {
				out = append(out, c.ID)
			}
			return out
		}
		assert.Equal(t, []string{"c1", "c2"}, ids(coupon.Query{UserID: "u1"}))
		assert.Equal(t, []string{"c2"}, ids(coupon.Query{UserID: "u1", States: []coupon.State{coupon.StateActivated}}))
		assert.Equal(t, []string{"c1"}, ids(coupon.Query{OrderID: "o1"}))
		assert.Equal(t, []string{"c1"}, ids(coupon.Query{States: []coupon.State{coupon.StateLocked}, LockedBefore: cpT0.Add(time.Hour)}))
		assert.Empty(t, ids(coupon.Query{States: []coupon.State{coupon.StateLocked}, LockedBefore: cpT0}))
		assert.Equal(t, []string{"c2", "c3", "c5"}, ids(coupon.Query{States: []coupon.State{coupon.StateActivated}, ValidBefore: cpT0.Add(8 * 24 * time.Hour)}))
		assert.Empty(t, ids(coupon.Query{ValidBefore: cpT0}))
		assert.Equal(t, []string{"c3"}, ids(coupon.Query{TemplateID: "t1", AfterID: "c2", Limit: 1}))
		n, err := cs.CountCoupons(ctx, tenantA, "t1")
		require.NoError(t, err)
		assert.Equal(t, map[coupon.State]int64{coupon.StateActivated: 3, coupon.StateLocked: 1}, n)
		found, err := cs.FindCoupons(ctx, coupon.Query{Tenant: tenantB, UserID: "u1"})
		require.NoError(t, err)
		require.Len(t, found, 1)
		assert.Equal(t, tenantB, found[0].Tenant)
	})

	t.Run("audit trail and distributions", func(t *testing.T) {
		cs := couponStore(t, h.Open(t))
		e := coupon.AuditEntry{Tenant: tenantA, EventID: "e1", CouponID: "c1", TemplateID: "t1", UserID: "u1", Event: coupon.EventLock,
			From: coupon.StateActivated, To: coupon.StateLocked, Actor: "u1", Reason: "order o1", OrderID: "o1", At: cpT0}
		e2 := e
		e2.EventID, e2.Event, e2.From, e2.To, e2.At = "e2", coupon.EventUse, coupon.StateLocked, coupon.StateUsed, cpT0.Add(time.Second)
		require.NoError(t, cs.AppendAudit(ctx, e, e2))
		trail, err := cs.Audit(ctx, tenantA, "c1")
		require.NoError(t, err)
		require.Len(t, trail, 2)
		assert.Equal(t, "e1", trail[0].EventID)
		assert.Equal(t, coupon.StateUsed, trail[1].To)
		assert.Equal(t, "order o1", trail[0].Reason)
		assert.True(t, trail[1].At.Equal(e2.At))
		trail, err = cs.Audit(ctx, tenantB, "c1")
		require.NoError(t, err)
		assert.Empty(t, trail)

		d := coupon.Distribution{Tenant: tenantA, ID: "d1", TemplateID: "t1", Users: []string{"u1", "u2", "u3"},
			Status: coupon.DistributionRunning, CreatedAt: cpT0, UpdatedAt: cpT0, Version: 1}
		require.NoError(t, cs.CreateDistribution(ctx, d))
		require.ErrorIs(t, cs.CreateDistribution(ctx, d), storage.ErrDuplicate)
		d2 := d
		d2.Next, d2.Issued, d2.Skipped, d2.Version = 2, 1, 1, 2
		d2.Failures = []coupon.DistributionFailure{{UserID: "u2", Reason: "limit"}}
		require.NoError(t, cs.UpdateDistribution(ctx, d2, 1))
		require.ErrorIs(t, cs.UpdateDistribution(ctx, d2, 1), storage.ErrConflict)
		got, err := cs.Distribution(ctx, tenantA, "d1")
		require.NoError(t, err)
		assert.Equal(t, d.Users, got.Users)
		assert.Equal(t, 2, got.Next)
		assert.Equal(t, d2.Failures, got.Failures)
		assert.Equal(t, int64(2), got.Version)
		_, err = cs.Distribution(ctx, tenantB, "d1")
		require.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("1000 concurrent claimers on two instances: stock 100, one per user", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		clock := storage.NewFakeClock(cpT0)
		svc1, svc2 := cpService(t, s1, clock), cpService(t, s2, clock)
		tpl := cpTemplate(tenantA, "hot")
		tpl.Conditions = nil
		_, err := svc1.CreateTemplate(ctx, tpl)
		require.NoError(t, err)
		const claimers, users = 1000, 250
		var won, soldOut, capped atomic.Int64
		var wg sync.WaitGroup
		for i := range claimers {
			svc := svc1
			if i%2 == 1 {
				svc = svc2
			}
			wg.Go(func() {
				req := coupon.ClaimRequest{Tenant: tenantA, TemplateID: "hot", UserID: fmt.Sprintf("u%03d", i%users)}
				_, err := svc.Claim(ctx, req)
				// an adapter may give up waiting for a lock (memory's
				// LockWait) with nothing changed; the claimer tries again
				for try := 0; errors.Is(err, storage.ErrLockTimeout) && try < 50; try++ {
					_, err = svc.Claim(ctx, req)
				}
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, coupon.ErrOutOfStock):
					soldOut.Add(1)
				case errors.Is(err, coupon.ErrUserLimit):
					capped.Add(1)
				default:
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(100), won.Load())
		assert.Equal(t, int64(claimers), won.Load()+soldOut.Load()+capped.Load())
		all, err := couponStore(t, s1).FindCoupons(ctx, coupon.Query{Tenant: tenantA, TemplateID: "hot"})
		require.NoError(t, err)
		assert.Len(t, all, 100, "exactly the stock exists")
		holders := map[string]int{}
		for _, c := range all {
			holders[c.UserID]++
			assert.Equal(t, 1, holders[c.UserID], "user %s holds two", c.UserID)
		}
		st, err := svc2.Stats(ctx, tenantA, "hot")
		require.NoError(t, err)
		assert.Equal(t, int64(100), st.Issued)
		assert.Equal(t, int64(0), st.RemainingStock)
	})

	t.Run("concurrent orders locking one coupon: exactly one wins", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		clock := storage.NewFakeClock(cpT0)
		svc1, svc2 := cpService(t, s1, clock), cpService(t, s2, clock)
		tpl := cpTemplate(tenantA, "t1")
		tpl.Conditions = nil
		_, err := svc1.CreateTemplate(ctx, tpl)
		require.NoError(t, err)
		c, err := svc1.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "t1", UserID: "u1"})
		require.NoError(t, err)
		n := h.writers()
		var won atomic.Int64
		var winner atomic.Value
		var wg sync.WaitGroup
		for i := range n {
			svc := svc1
			if i%2 == 1 {
				svc = svc2
			}
			wg.Go(func() {
				order := fmt.Sprintf("o%d", i)
				req := coupon.LockRequest{Tenant: tenantA, CouponID: c.ID, OrderID: order, Discount: cpUSD("20.00")}
				_, err := svc.Lock(ctx, req)
				for try := 0; errors.Is(err, storage.ErrLockTimeout) && try < 50; try++ {
					_, err = svc.Lock(ctx, req)
				}
				if err == nil {
					won.Add(1)
					winner.Store(order)
					return
				}
				if !errors.Is(err, coupon.ErrLocked) && !errors.Is(err, storage.ErrConflict) {
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int64(1), won.Load())
		got, err := couponStore(t, s1).Coupon(ctx, tenantA, c.ID)
		require.NoError(t, err)
		assert.Equal(t, coupon.StateLocked, got.State)
		assert.Equal(t, winner.Load(), got.OrderID)
		st, err := svc1.Stats(ctx, tenantA, "t1")
		require.NoError(t, err)
		assert.True(t, st.BudgetSpent.Equal(cpUSD("20.00")), "only the winner charged the budget: %s", st.BudgetSpent)
		trail, err := svc1.Audit(ctx, tenantA, c.ID)
		require.NoError(t, err)
		assert.Len(t, trail, 2, "claim and one lock")
	})

	t.Run("lifecycle with codes, audit and outbox in one transaction", func(t *testing.T) {
		s := h.Open(t)
		clock := storage.NewFakeClock(cpT0)
		svc := cpService(t, s, clock)
		tpl := cpTemplate(tenantA, "t1")
		tpl.Conditions = nil
		_, err := svc.CreateTemplate(ctx, tpl)
		require.NoError(t, err)
		codes, err := svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: tenantA, TemplateID: "t1", Count: 25, ChunkSize: 10})
		require.NoError(t, err)
		require.Len(t, codes, 25)
		c, err := svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenantA, Code: coupon.FormatCode(codes[3]), UserID: "u1"})
		require.NoError(t, err)
		assert.Equal(t, coupon.StateActivated, c.State)
		_, err = svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenantA, Code: codes[3], UserID: "u2"})
		require.ErrorIs(t, err, coupon.ErrCodeTaken)
		_, err = svc.Lock(ctx, coupon.LockRequest{Tenant: tenantA, CouponID: c.ID, OrderID: "o1", Discount: cpUSD("20.00")})
		require.NoError(t, err)
		used, err := svc.Use(ctx, coupon.OrderRequest{Tenant: tenantA, OrderID: "o1"})
		require.NoError(t, err)
		again, err := svc.Use(ctx, coupon.OrderRequest{Tenant: tenantA, OrderID: "o1"})
		require.NoError(t, err)
		assert.Equal(t, used, again)
		_, err = svc.Refund(ctx, coupon.OrderRequest{Tenant: tenantA, OrderID: "o1", Actor: "cs"})
		require.NoError(t, err)
		got, err := svc.Coupon(ctx, tenantA, c.ID)
		require.NoError(t, err)
		assert.Equal(t, coupon.StateActivated, got.State, "RefundRestore")
		trail, err := svc.Audit(ctx, tenantA, c.ID)
		require.NoError(t, err)
		require.Len(t, trail, 5) // activate, lock, use, refund, restore
		msgs, err := s.PendingOutbox(ctx, storage.PartitionOf(tenantA, "coupon", c.ID), 100)
		require.NoError(t, err)
		var seen []string
		for _, m := range msgs {
			if m.AggregateID == c.ID {
				seen = append(seen, m.EventID)
			}
		}
		require.Len(t, seen, len(trail))
		for i, e := range trail {
			assert.Equal(t, e.EventID, seen[i])
		}
		st, err := svc.Stats(ctx, tenantA, "t1")
		require.NoError(t, err)
		assert.Equal(t, int64(25), st.Issued)
		assert.True(t, st.BudgetSpent.IsZero())
	})

	t.Run("gift card authorizations round-trip, conditional on version, scoped by tenant", func(t *testing.T) {
		cs := couponStore(t, h.Open(t))
		a := coupon.GiftCardAuthorization{
			Tenant: tenantA, OrderID: "o1", CouponID: "c1", HoldID: "h1", Amount: cpUSD("30.00"), ExpiresAt: cpT0.Add(time.Hour),
			CreatedAt: cpT0, UpdatedAt: cpT0, Version: 1,
		}
		require.NoError(t, cs.InsertGiftCardAuth(ctx, a))
		require.ErrorIs(t, cs.InsertGiftCardAuth(ctx, a), storage.ErrDuplicate)
		got, err := cs.GiftCardAuth(ctx, tenantA, "o1")
		require.NoError(t, err)
		assert.Equal(t, "c1", got.CouponID)
		assert.True(t, got.Amount.Equal(a.Amount))
		assert.True(t, got.ExpiresAt.Equal(a.ExpiresAt))
		_, err = cs.GiftCardAuth(ctx, tenantB, "o1")
		require.ErrorIs(t, err, storage.ErrNotFound)

		b := got
		b.Captures = []coupon.CaptureRecord{{Key: "k", Amount: cpUSD("10.00"), Destination: "m1", TxID: "tx1", At: cpT0}}
		b.Refunds = []coupon.RefundRecord{{Key: "r", Amount: cpUSD("1.00"), TxIDs: []string{"tx2"}, At: cpT0}}
		b.Version = 2
		require.NoError(t, cs.UpdateGiftCardAuth(ctx, b, 1))
		require.ErrorIs(t, cs.UpdateGiftCardAuth(ctx, b, 1), storage.ErrConflict, "stale version")
		missing := b
		missing.OrderID = "nope"
		require.ErrorIs(t, cs.UpdateGiftCardAuth(ctx, missing, 1), storage.ErrNotFound)
		got, err = cs.GiftCardAuth(ctx, tenantA, "o1")
		require.NoError(t, err)
		require.Len(t, got.Captures, 1)
		assert.Equal(t, "10.00", got.Captured().StringFixed())
		assert.Equal(t, "1.00", got.Refunded().StringFixed())
		assert.Equal(t, []string{"tx2"}, got.Refunds[0].TxIDs)
		assert.Equal(t, int64(2), got.Version)
	})

	t.Run("concurrent gift card spends on two instances never exceed the balance", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		clock := storage.NewFakeClock(cpT0)
		mk := func(s Store) (*coupon.Service, *ledger.Ledger) {
			led, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, Clock: clock})
			require.NoError(t, err)
			svc, err := coupon.New(coupon.Config{Store: couponStore(t, s), Tx: s, Clock: clock, Ledger: led})
			require.NoError(t, err)
			return svc, led
		}
		svc1, led1 := mk(s1)
		svc2, _ := mk(s2)
		_, err := svc1.CreateTemplate(ctx, coupon.Template{
			Tenant: tenantA, ID: "gift", Benefit: coupon.Benefit{Kind: coupon.KindGiftCard, Currency: money.USD, Amount: cpUSD("100.00")},
			Validity: coupon.Validity{Days: 365},
		})
		require.NoError(t, err)
		card, err := svc1.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "gift", UserID: "u1"})
		require.NoError(t, err)

		orders := h.writers()
		var captured, refused atomic.Int64
		var wg sync.WaitGroup
		retry := func(f func() error) error {
			err := f()
			for try := 0; (errors.Is(err, storage.ErrLockTimeout) || errors.Is(err, storage.ErrConflict)) && try < 50; try++ {
				err = f()
			}
			return err
		}
		for i := range orders {
			svc := svc1
			if i%2 == 1 {
				svc = svc2
			}
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			auth := int64(100 + rng.IntN(900)) // 1.00 .. 9.99
			take := 1 + rng.Int64N(auth)
			order := fmt.Sprintf("o%02d", i)
			wg.Go(func() {
				err := retry(func() error {
					_, err := svc.AuthorizeGiftCard(ctx, tenantA, coupon.GiftCardAuth{CouponID: card.ID, OrderID: order, Amount: money.FromMinor(auth, money.USD)})
					return err
				})
				if errors.Is(err, coupon.ErrInsufficientBalance) {
					refused.Add(1)
					return
				}
				if !assert.NoError(t, err) {
					return
				}
				err = retry(func() error {
					_, err := svc.CaptureGiftCard(ctx, tenantA, coupon.GiftCardCapture{OrderID: order, Amount: money.FromMinor(take, money.USD), Destination: "merchant:m" + order[1:]})
					return err
				})
				if !assert.NoError(t, err) {
					return
				}
				captured.Add(take)
				err = retry(func() error {
					_, err := svc.VoidGiftCard(ctx, tenantA, order)
					return err
				})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.LessOrEqual(t, captured.Load(), int64(10000), "never more captured than the card held")
		posted, held, _, err := svc1.GiftCardBalance(ctx, tenantA, card.ID)
		require.NoError(t, err)
		assert.True(t, held.IsZero(), "no hold left open: %s held", held)
		left, err := posted.Minor()
		require.NoError(t, err)
		assert.Equal(t, int64(10000), left+captured.Load(), "what is left plus what was captured is the initial balance")

		// the ledger balances: every USD account the spends touched sums to zero
		accounts := []string{ledger.World, coupon.GiftCardAccount(card.ID), coupon.GiftCardAccount(card.ID) + ":capturing"}
		for i := range orders {
			accounts = append(accounts, fmt.Sprintf("merchant:m%02d", i))
		}
		var sum, paid int64
		for _, acc := range accounts {
			b, err := led1.Balance(ctx, tenantA, acc, money.USD)
			require.NoError(t, err)
			p, err := b.Posted.Minor()
			require.NoError(t, err)
			sum += p
			if strings.HasPrefix(acc, "merchant:") {
				paid += p
			}
			assert.True(t, b.Held.IsZero(), "%s has %s held", acc, b.Held)
		}
		assert.Equal(t, int64(0), sum, "balances per asset sum to zero")
		assert.Equal(t, captured.Load(), paid, "merchants got exactly what was captured")
		// every authorization's hold is closed
		for i := range orders {
			a, err := svc2.GiftCardAuthorization(ctx, tenantA, fmt.Sprintf("o%02d", i))
			if errors.Is(err, coupon.ErrNotAuthorized) {
				continue
			}
			require.NoError(t, err)
			hold, err := led1.HoldByID(ctx, tenantA, a.HoldID)
			require.NoError(t, err)
			assert.NotEqual(t, ledger.HoldOpen, hold.Status, "order %s", a.OrderID)
		}
		t.Logf("%d orders: %d refused, %s captured", orders, refused.Load(), money.FromMinor(captured.Load(), money.USD))
	})
}
