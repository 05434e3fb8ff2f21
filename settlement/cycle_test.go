package settlement_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

func TestCyclePeriods(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	at := time.Date(2025, 8, 11, 17, 0, 0, 0, time.UTC) // 01:00 on the 12th in Shanghai
	s, e, d := settlement.Cycle{Party: "p", Kind: settlement.CycleDaily, Days: 3}.Period(at, sh)
	assert.Equal(t, time.Date(2025, 8, 12, 0, 0, 0, 0, sh), s)
	assert.Equal(t, time.Date(2025, 8, 13, 0, 0, 0, 0, sh), e)
	assert.Equal(t, time.Date(2025, 8, 15, 0, 0, 0, 0, sh), d)
	s, e, d = settlement.Cycle{Party: "p", Kind: settlement.CycleMonthly}.Period(at, sh)
	assert.Equal(t, time.Date(2025, 8, 1, 0, 0, 0, 0, sh), s)
	assert.Equal(t, time.Date(2025, 9, 1, 0, 0, 0, 0, sh), e)
	assert.Equal(t, e, d)
	assert.Equal(t, "T+3", settlement.Cycle{Kind: settlement.CycleDaily, Days: 3}.String())
}

func completeOrder(t *testing.T, e *env, id, user string, coupons []string) settlement.Order {
	t.Helper()
	e.checkout(id, user, fiveLines(), coupons, "", money.Amount{})
	_, err := e.svc.Fulfil(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: id})
	require.NoError(t, err)
	o, err := e.svc.Complete(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: id})
	require.NoError(t, err)
	return o
}

func TestCyclesAndStatements(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	review := func(ctx context.Context, st settlement.Statement) (bool, string, error) {
		if st.Party == "merchant:m2" {
			return true, "cash-out review", nil
		}
		return false, "", nil
	}
	e := newEnv(t, func(c *settlement.Config) { c.Review = review })
	e.setupTemplates(money.Amount{})
	c1 := e.claim("alice")
	o1 := completeOrder(t, e, "o1", "alice", []string{c1.ID}) // 18:00 on Aug 11 in Shanghai
	e.clock.Set(time.Date(2025, 8, 12, 1, 0, 0, 0, sh))
	completeOrder(t, e, "o2", "bob", nil) // Aug 12 in Shanghai, still Aug 11 in UTC

	e.clock.Set(time.Date(2025, 8, 12, 9, 0, 0, 0, sh))
	res, err := e.svc.RunCycles(e.ctx, shop)
	require.NoError(t, err)
	require.Len(t, res.Statements, 1, "only the platform's Aug 11 (T+1) is due")
	st := res.Statements[0]
	assert.Equal(t, "platform", st.Party)
	assert.Equal(t, time.Date(2025, 8, 11, 0, 0, 0, 0, sh), st.PeriodStart)
	assert.Equal(t, settlement.StatementIssued, st.Status)
	require.Len(t, st.Items, 1)
	assert.Equal(t, "o1", st.Items[0].OrderID)
	assert.Equal(t, 1, st.CouponOrders)
	want := expectedShares(t, o1, testSplit())
	assert.Equal(t, want["platform"], minorOf(t, st.Total))

	again, err := e.svc.RunCycles(e.ctx, shop)
	require.NoError(t, err)
	assert.Empty(t, again.Statements, "nothing twice")

	// a refund of o1 after its platform statement: a clawback entry for
	// the next period
	e.clock.Set(time.Date(2025, 8, 13, 12, 0, 0, 0, sh))
	o1, err = e.svc.Refund(e.ctx, settlement.RefundRequest{Tenant: shop, OrderID: "o1", Key: "r1", Items: []settlement.RefundItem{{LineID: "l5", Quantity: 1}}})
	require.NoError(t, err)
	var platformClaw money.Amount
	for _, c := range o1.Refunds[0].Clawback {
		if c.Party == "platform" {
			platformClaw = c.Amount
		}
	}
	require.False(t, platformClaw.Currency().IsZero(), "the platform has a share of the refunded line")

	// two instances at once, Sep 1: everything is due
	e.clock.Set(time.Date(2025, 9, 1, 0, 30, 0, 0, sh))
	other, err := settlement.New(settlement.Config{Store: e.store.Settlement(), Tx: e.store, Ledger: e.led, Coupons: e.cps, Clock: e.clock,
		Split: testSplit(), Cycles: testCycles(), TimeZone: func(storage.TenantID) string { return "Asia/Shanghai" }, Review: review})
	require.NoError(t, err)
	var wg sync.WaitGroup
	results := make([]settlement.CycleResult, 2)
	errs := make([]error, 2)
	for i, s := range []*settlement.Service{e.svc, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.RunCycles(e.ctx, shop)
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])

	all, err := e.svc.Statements(e.ctx, shop, "")
	require.NoError(t, err)
	ids := map[string]bool{}
	for _, s := range all {
		assert.False(t, ids[s.ID], "statement %s made twice", s.ID)
		ids[s.ID] = true
	}
	made := len(results[0].Statements) + len(results[1].Statements)
	assert.Equal(t, len(all)-1, made, "every statement made once, by one of the instances")
	// platform: Aug 11 (o1), Aug 12 (o2), Aug 13 (clawback); merchants T+3
	// per day; channel monthly
	var platform, channel []settlement.Statement
	for _, s := range all {
		switch {
		case s.Party == "platform":
			platform = append(platform, s)
		case strings.HasPrefix(s.Party, "channel:"):
			channel = append(channel, s)
		}
	}
	require.Len(t, platform, 3)
	assert.True(t, platform[2].Total.Equal(platformClaw.Neg()), "the clawback's statement takes back the platform's share")
	require.Len(t, channel, 1)
	assert.Equal(t, "monthly", channel[0].Cycle)
	assert.Equal(t, time.Date(2025, 8, 1, 0, 0, 0, 0, sh), channel[0].PeriodStart)

	// statements tie to the ledger: issued totals left the payables for
	// the payout account, held ones stay until released
	payout := money.Zero(money.USD)
	heldBy := map[string]money.Amount{}
	for _, s := range all {
		if s.Status == settlement.StatementHeld {
			assert.Equal(t, "merchant:m2", s.Party)
			assert.Equal(t, "cash-out review", s.HoldReason)
			h := heldBy[s.Party]
			if h.Currency().IsZero() {
				h = money.Zero(money.USD)
			}
			heldBy[s.Party], _ = h.Add(s.Total)
			continue
		}
		payout, _ = payout.Add(s.Total)
	}
	assert.True(t, e.balance(settlement.PayoutAccount).Equal(payout), "payout %s, statements %s", e.balance(settlement.PayoutAccount), payout)
	for _, p := range []string{"platform", "merchant:m1", "merchant:m3", "channel:app"} {
		assert.True(t, e.balance(settlement.PayableAccount(p)).IsZero(), "%s settled", p)
	}
	assert.True(t, e.balance(settlement.PayableAccount("merchant:m2")).Equal(heldBy["merchant:m2"]), "held statements stay payable")

	for _, s := range all {
		if s.Status != settlement.StatementHeld {
			continue
		}
		_, err := e.svc.ReleaseStatement(e.ctx, shop, s.ID, "")
		require.ErrorIs(t, err, settlement.ErrInvalidRequest)
		r, err := e.svc.ReleaseStatement(e.ctx, shop, s.ID, "reviewer-1")
		require.NoError(t, err)
		assert.Equal(t, settlement.StatementReleased, r.Status)
		_, err = e.svc.ReleaseStatement(e.ctx, shop, s.ID, "reviewer-1")
		require.NoError(t, err, "releasing again returns it")
	}
	assert.True(t, e.balance(settlement.PayableAccount("merchant:m2")).IsZero())
	_, err = e.svc.ReleaseStatement(e.ctx, shop, platform[0].ID, "reviewer-1")
	assert.ErrorIs(t, err, settlement.ErrStatementNotHeld)
	_, err = e.svc.Statement(e.ctx, shop, "nope")
	assert.ErrorIs(t, err, settlement.ErrStatementNotFound)
	rep, err := e.svc.Reconcile(e.ctx, shop)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Mismatches)
}

func TestReviewRules(t *testing.T) {
	env, err := rules.NewEnv()
	require.NoError(t, err)
	r, err := env.Compile("few_coupon_orders", `counters["coupon_orders"] < 2`)
	require.NoError(t, err)
	set, err := rules.NewSet(rules.Entry{Rule: r})
	require.NoError(t, err)
	review := settlement.ReviewRules(set)
	hold, reason, err := review(context.Background(), settlement.Statement{Party: "merchant:m1", CouponOrders: 5, Total: dollars("10")})
	require.NoError(t, err)
	assert.True(t, hold)
	assert.Contains(t, reason, "few_coupon_orders")
	hold, _, err = review(context.Background(), settlement.Statement{Party: "merchant:m1", CouponOrders: 1, Total: dollars("10")})
	require.NoError(t, err)
	assert.False(t, hold)
}
