package reward_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

func usd(s string) money.Amount { return money.MustParse(s, money.USD) }

var loyaltyTiers = []reward.TierRule{{Name: "member"}, {Name: "silver", Threshold: 500}, {Name: "gold", Threshold: 2000}}

func baseEarning() []reward.EarningRule {
	return []reward.EarningRule{
		{ID: "base", Rate: decimal.NewFromInt(1)},
		{ID: "gold-x2", Condition: `user.tier == "gold"`, Multiplier: decimal.NewFromInt(2)},
		{ID: "app-week", Condition: `order.channel == "app"`, Bonus: 50, Start: t0, End: t0.AddDate(0, 0, 7)},
	}
}

// newProgram wires a Loyalty program over the world's memory store; edit
// adjusts the config.
func newProgram(t *testing.T, w *world, edit func(*reward.LoyaltyConfig)) *reward.Loyalty {
	t.Helper()
	cfg := reward.LoyaltyConfig{Store: w.mem.Loyalty(), Tx: w.mem, Ledger: w.ledger, Coupons: w.coupons, Clock: w.clock,
		Points: pts, Currency: money.USD, Tiers: loyaltyTiers, Earning: baseEarning(),
		Offers: []reward.Offer{
			{ID: "c10-for-300", Cost: 300, Template: "c10"},
			{ID: "gold-lounge", Cost: 100, Tiers: []string{"gold"}},
		}}
	if edit != nil {
		edit(&cfg)
	}
	l, err := reward.NewLoyalty(cfg)
	require.NoError(t, err)
	return l
}

func register(t *testing.T, l *reward.Loyalty, id string) {
	t.Helper()
	m, err := l.Register(context.Background(), tenant, reward.Registration{ID: id, Email: id + "@example.com", Name: id})
	require.NoError(t, err)
	require.Equal(t, "member", m.Tier)
}

func TestLoyaltyEarningRules(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, nil)
	register(t, l, "alice")
	register(t, l, "gus")
	_, err := l.Accrue(ctx, tenant, reward.Accrual{Key: "gus-big", Member: "gus", Amount: usd("2500.00"), Time: t0.AddDate(0, 0, -1)})
	require.NoError(t, err) // gus is gold now

	cases := []struct {
		name   string
		acc    reward.Accrual
		points int64
		rules  []string
	}{
		{"one point per dollar, cents round down", reward.Accrual{Member: "alice", Amount: usd("12.99"), Time: t0.Add(-time.Hour)}, 12, []string{"base"}},
		{"app bonus inside its week", reward.Accrual{Member: "alice", Amount: usd("10.00"), Channel: "app", Time: t0.Add(time.Hour)}, 60, []string{"base", "app-week"}},
		{"app bonus after its week", reward.Accrual{Member: "alice", Amount: usd("10.00"), Channel: "app", Time: t0.AddDate(0, 0, 8)}, 10, []string{"base"}},
		{"gold doubles the base, not the bonus", reward.Accrual{Member: "gus", Amount: usd("10.50"), Channel: "app", Time: t0.Add(time.Hour)}, 71, []string{"base", "gold-x2", "app-week"}},
		{"no spend, bonus only", reward.Accrual{Member: "alice", Type: "review", Channel: "app", Time: t0.Add(time.Hour)}, 50, []string{"app-week"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.acc.Key = fmt.Sprintf("acc-%d", i)
			est, rules, err := l.Estimate(ctx, tenant, tc.acc)
			require.NoError(t, err)
			got, err := l.Accrue(ctx, tenant, tc.acc)
			require.NoError(t, err)
			assert.Equal(t, money.FromMinor(tc.points, pts).String(), got.Points.String())
			assert.Equal(t, tc.rules, got.Rules)
			assert.Equal(t, got.Points.String(), est.String())
			assert.Equal(t, got.Rules, rules)
		})
	}
	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.Equal(t, "132", m.Points.Decimal().String())
	assert.True(t, m.Points.Equal(m.Lifetime))
}

func TestLoyaltyAccrueIdempotentAndBadInput(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, nil)
	register(t, l, "alice")
	a := reward.Accrual{Key: "order-1", Member: "alice", Amount: usd("40.00")}
	first, err := l.Accrue(ctx, tenant, a)
	require.NoError(t, err)
	w.clock.Advance(time.Minute) // a redelivery later, still without a time
	again, err := l.Accrue(ctx, tenant, a)
	require.NoError(t, err)
	assert.Equal(t, first.TxID, again.TxID)
	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.Equal(t, "40", m.Points.Decimal().String())

	a.Amount = usd("41.00")
	_, err = l.Accrue(ctx, tenant, a)
	require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)

	for name, bad := range map[string]reward.Accrual{
		"no key":         {Member: "alice", Amount: usd("1.00")},
		"other currency": {Key: "k1", Member: "alice", Amount: money.MustParse("1", money.JPY)},
		"negative":       {Key: "k2", Member: "alice", Amount: usd("-1.00")},
		"bad member id":  {Key: "k3", Member: "a b", Amount: usd("1.00")},
	} {
		_, err := l.Accrue(ctx, tenant, bad)
		assert.ErrorIs(t, err, reward.ErrInvalidArgument, name)
	}
	_, err = l.Accrue(ctx, tenant, reward.Accrual{Key: "k4", Member: "nobody", Amount: usd("1.00")})
	require.ErrorIs(t, err, reward.ErrMemberNotFound)
	_, err = l.Register(ctx, tenant, reward.Registration{ID: "alice"})
	require.ErrorIs(t, err, reward.ErrMemberExists)
}

func TestLoyaltyTierUpgradeByLifetime(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, nil)
	register(t, l, "alice")
	got, err := l.Accrue(ctx, tenant, reward.Accrual{Key: "o1", Member: "alice", Amount: usd("499.00"), Time: t0.AddDate(0, 1, 0)})
	require.NoError(t, err)
	assert.Nil(t, got.TierChange)
	got, err = l.Accrue(ctx, tenant, reward.Accrual{Key: "o2", Member: "alice", Amount: usd("1.00"), Time: t0.AddDate(0, 1, 0)})
	require.NoError(t, err)
	require.NotNil(t, got.TierChange)
	assert.Equal(t, "silver", got.Tier)
	assert.True(t, l.Upgrade(*got.TierChange))
	got, err = l.Accrue(ctx, tenant, reward.Accrual{Key: "o3", Member: "alice", Amount: usd("1500.00"), Time: t0.AddDate(0, 1, 0)})
	require.NoError(t, err)
	assert.Equal(t, "gold", got.Tier)
	// The next accrual earns at the gold rate.
	got, err = l.Accrue(ctx, tenant, reward.Accrual{Key: "o4", Member: "alice", Amount: usd("10.00"), Time: t0.AddDate(0, 1, 0)})
	require.NoError(t, err)
	assert.Equal(t, "20", got.Points.Decimal().String())

	h, err := l.History(ctx, tenant, "alice", 0, 10)
	require.NoError(t, err)
	require.Len(t, h.Entries, 4)
	require.Len(t, h.Tiers, 2)
	assert.Equal(t, []string{"member>silver", "silver>gold"}, []string{h.Tiers[0].From + ">" + h.Tiers[0].To, h.Tiers[1].From + ">" + h.Tiers[1].To})
	msgs := outbox(t, w.mem)
	assert.Len(t, msgs[reward.TopicTierChanged], 2)
	assert.Len(t, msgs[reward.TopicAccrued], 4)
	assert.Len(t, msgs[reward.TopicRegistered], 1)
}

func TestLoyaltyTierDowngradeBySpendWindow(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, func(c *reward.LoyaltyConfig) {
		c.TierBasis, c.TierWindow = reward.TierBySpend, 30*24*time.Hour
		c.Tiers = []reward.TierRule{{Name: "member"}, {Name: "silver", Threshold: 500_00}, {Name: "gold", Threshold: 2000_00}}
	})
	for _, id := range []string{"alice", "bob", "cora"} {
		register(t, l, id)
	}
	for _, a := range []reward.Accrual{
		{Key: "a1", Member: "alice", Amount: usd("2000.00")},
		{Key: "b1", Member: "bob", Amount: usd("600.00")},
	} {
		_, err := l.Accrue(ctx, tenant, a)
		require.NoError(t, err)
	}
	w.clock.Advance(20 * 24 * time.Hour)
	_, err := l.Accrue(ctx, tenant, reward.Accrual{Key: "b2", Member: "bob", Amount: usd("1500.00")})
	require.NoError(t, err)
	tierOf := func(id string) string {
		m, err := l.Member(ctx, tenant, id)
		require.NoError(t, err)
		return m.Tier
	}
	assert.Equal(t, []string{"gold", "gold", "member"}, []string{tierOf("alice"), tierOf("bob"), tierOf("cora")})

	// Eleven days on, alice's spend has left the window; bob keeps 1500.
	w.clock.Advance(11 * 24 * time.Hour)
	res, err := l.EvaluateTiers(ctx, tenant, 2)
	require.NoError(t, err)
	assert.Equal(t, reward.TierSweep{Evaluated: 3, Downgraded: 2}, res)
	assert.Equal(t, []string{"member", "silver", "member"}, []string{tierOf("alice"), tierOf("bob"), tierOf("cora")})
	h, err := l.History(ctx, tenant, "alice", 0, 10)
	require.NoError(t, err)
	require.Len(t, h.Tiers, 2)
	assert.False(t, l.Upgrade(h.Tiers[1]))
	assert.Equal(t, "evaluation", h.Tiers[1].Reason)

	// A second sweep changes nothing; another owner holding the lease
	// makes the sweep stand aside.
	res, err = l.EvaluateTiers(ctx, tenant, 10)
	require.NoError(t, err)
	assert.Equal(t, reward.TierSweep{Evaluated: 3}, res)
	_, ok, err := w.mem.AcquireLease(ctx, "reward.loyalty.tiers/"+string(tenant), "other-host", w.clock.Now(), time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	res, err = l.EvaluateTiers(ctx, tenant, 10)
	require.NoError(t, err)
	assert.True(t, res.Busy)
}

func TestLoyaltyPointExpiry(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, func(c *reward.LoyaltyConfig) { c.PointsTTL = 90 * 24 * time.Hour })
	register(t, l, "alice")
	first, err := l.Accrue(ctx, tenant, reward.Accrual{Key: "o1", Member: "alice", Amount: usd("100.00")})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(90*24*time.Hour), first.ExpiresAt)
	w.clock.Advance(60 * 24 * time.Hour)
	_, err = l.Accrue(ctx, tenant, reward.Accrual{Key: "o2", Member: "alice", Amount: usd("30.00")})
	require.NoError(t, err)

	w.clock.Advance(31 * 24 * time.Hour) // the first lot lapsed, the second not
	_, err = w.ledger.SweepExpired(ctx, tenant, w.clock.Now(), 100)
	require.NoError(t, err)
	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.Equal(t, "30", m.Points.Decimal().String())
	assert.Equal(t, "130", m.Lifetime.Decimal().String(), "expiry does not lower lifetime points")
	h, err := l.History(ctx, tenant, "alice", 0, 10)
	require.NoError(t, err)
	require.Len(t, h.Entries, 3)
	assert.Equal(t, ledger.KindExpiry, h.Entries[0].Kind)
	assert.Equal(t, "-100", h.Entries[0].Amount.Decimal().String())
}

func TestLoyaltyRedeem(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	_, err := w.coupons.CreateTemplate(ctx, coupon.Template{
		Tenant: tenant, ID: "once",
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: usd("5.00")},
		Validity: coupon.Validity{Days: 30}, Limits: coupon.Limits{Stock: 100, PerUser: 1},
	})
	require.NoError(t, err)
	l := newProgram(t, w, func(c *reward.LoyaltyConfig) {
		c.Offers = append(c.Offers, reward.Offer{ID: "once-for-100", Cost: 100, Template: "once"},
			reward.Offer{ID: "later", Cost: 1, Start: t0.AddDate(0, 1, 0)})
	})
	register(t, l, "alice")
	_, err = l.Accrue(ctx, tenant, reward.Accrual{Key: "o1", Member: "alice", Amount: usd("450.00")})
	require.NoError(t, err)
	balance := func() string {
		m, err := l.Member(ctx, tenant, "alice")
		require.NoError(t, err)
		return m.Points.Decimal().String()
	}

	r, err := l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r1", Member: "alice", Offer: "c10-for-300"})
	require.NoError(t, err)
	c, err := w.coupons.Coupon(ctx, tenant, r.CouponID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, c.State)
	assert.Equal(t, "alice", c.UserID)
	again, err := l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r1", Member: "alice", Offer: "c10-for-300"})
	require.NoError(t, err)
	assert.Equal(t, r, again)
	assert.Equal(t, "150", balance())

	_, err = l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r2", Member: "alice", Offer: "c10-for-300"})
	require.ErrorIs(t, err, reward.ErrInsufficientPoints)
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	assert.Equal(t, "150", balance())

	// A coupon the template refuses (per-user limit) leaves the points.
	_, err = l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r3", Member: "alice", Offer: "once-for-100"})
	require.NoError(t, err)
	assert.Equal(t, "50", balance())
	w2, err := l.Accrue(ctx, tenant, reward.Accrual{Key: "o2", Member: "alice", Amount: usd("100.00")})
	require.NoError(t, err)
	require.Equal(t, "100", w2.Points.Decimal().String())
	_, err = l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r4", Member: "alice", Offer: "once-for-100"})
	require.ErrorIs(t, err, coupon.ErrUserLimit)
	assert.Equal(t, "150", balance(), "the refused claim rolled the debit back")
	// The failed key left no claim: after the cause is gone it can run.
	_, err = l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r4", Member: "alice", Offer: "c10-for-300"})
	require.ErrorIs(t, err, reward.ErrInsufficientPoints)

	_, err = l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r5", Member: "alice", Offer: "gold-lounge"})
	require.ErrorIs(t, err, reward.ErrOfferUnavailable, "tier-restricted")
	_, err = l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r6", Member: "alice", Offer: "later"})
	require.ErrorIs(t, err, reward.ErrOfferUnavailable, "not started")
	_, err = l.Redeem(ctx, tenant, reward.RedeemRequest{Key: "r7", Member: "alice", Offer: "nope"})
	require.ErrorIs(t, err, reward.ErrOfferNotFound)
	offers, err := l.Offers(ctx, tenant, "alice")
	require.NoError(t, err)
	var ids []string
	for _, o := range offers {
		ids = append(ids, o.ID)
	}
	assert.Equal(t, []string{"c10-for-300", "once-for-100"}, ids)
	assert.Len(t, outbox(t, w.mem)[reward.TopicRedeemed], 2)
}

func TestLoyaltyConcurrentAccrueAndRedeem(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, func(c *reward.LoyaltyConfig) {
		c.Offers = []reward.Offer{{ID: "burn-7", Cost: 7}}
		c.Earning = []reward.EarningRule{{ID: "base", Rate: decimal.NewFromInt(1)}}
	})
	register(t, l, "alice")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var redeemed, refused int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				_, err := l.Accrue(ctx, tenant, reward.Accrual{Key: fmt.Sprintf("a-%d-%d", g, i), Member: "alice", Amount: usd("3.00")})
				assert.NoError(t, err)
				_, err = l.Redeem(ctx, tenant, reward.RedeemRequest{Key: fmt.Sprintf("r-%d-%d", g, i), Member: "alice", Offer: "burn-7"})
				mu.Lock()
				switch {
				case err == nil:
					redeemed++
				case assert.ErrorIs(t, err, reward.ErrInsufficientPoints):
					refused++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.Equal(t, "480", m.Lifetime.Decimal().String())
	assert.Equal(t, fmt.Sprint(480-7*redeemed), m.Points.Decimal().String())
	assert.False(t, m.Points.IsNegative())
	assert.Equal(t, int64(160), redeemed+refused)
}

func TestLoyaltyConfigErrors(t *testing.T) {
	w := newWorld(t, reward.LedgerAwarderConfig{})
	_, err := reward.NewLoyalty(reward.LoyaltyConfig{})
	require.ErrorIs(t, err, reward.ErrInvalidConfig)
	for name, edit := range map[string]func(*reward.LoyaltyConfig){
		"first tier above zero": func(c *reward.LoyaltyConfig) { c.Tiers = []reward.TierRule{{Name: "a", Threshold: 1}} },
		"tiers not ascending": func(c *reward.LoyaltyConfig) {
			c.Tiers = []reward.TierRule{{Name: "a"}, {Name: "b", Threshold: 5}, {Name: "c", Threshold: 5}}
		},
		"spend without window": func(c *reward.LoyaltyConfig) { c.TierBasis = reward.TierBySpend },
		"rule earns nothing":   func(c *reward.LoyaltyConfig) { c.Earning = []reward.EarningRule{{ID: "x"}} },
		"rule does not compile": func(c *reward.LoyaltyConfig) {
			c.Earning = []reward.EarningRule{{ID: "x", Bonus: 1, Condition: "user.nope == 1"}}
		},
		"offer without cost": func(c *reward.LoyaltyConfig) { c.Offers = []reward.Offer{{ID: "o"}} },
		"coupon offer without coupons": func(c *reward.LoyaltyConfig) {
			c.Coupons, c.Offers = nil, []reward.Offer{{ID: "o", Cost: 1, Template: "c10"}}
		},
		"bad account pattern": func(c *reward.LoyaltyConfig) { c.Account = "points" },
	} {
		cfg := reward.LoyaltyConfig{Store: w.mem.Loyalty(), Tx: w.mem, Ledger: w.ledger, Coupons: w.coupons, Points: pts, Currency: money.USD}
		edit(&cfg)
		_, err := reward.NewLoyalty(cfg)
		assert.ErrorIs(t, err, reward.ErrInvalidConfig, name)
	}
}

func TestParseEarningRules(t *testing.T) {
	rules, err := reward.ParseEarningRules([]byte(`[
		{"id": "base", "rate": "1"},
		{"id": "gold", "condition": "user.tier == \"gold\"", "multiplier": "2"},
		{"id": "launch", "bonus": 100, "start": "2025-08-01T00:00:00Z", "end": "2025-08-08T00:00:00Z"}
	]`))
	require.NoError(t, err)
	require.Len(t, rules, 3)
	assert.True(t, rules[1].Multiplier.Equal(decimal.NewFromInt(2)))
	assert.Equal(t, t0, rules[2].Start)
	for _, bad := range []string{`[{"id": "x", "rate": "1", "typo": 1}]`, `[{"id": "x"}]`, `[{"rate": "1"}]`, `[] []`, `{`} {
		_, err := reward.ParseEarningRules([]byte(bad))
		assert.ErrorIs(t, err, reward.ErrInvalidConfig, bad)
	}
}

func FuzzParseEarningRules(f *testing.F) {
	f.Add([]byte(`[{"id": "base", "rate": "1"}]`))
	f.Add([]byte(`[{"id": "b", "bonus": 5, "start": "2025-08-01T00:00:00Z"}]`))
	f.Add([]byte(`[{"id": "m", "multiplier": "-2"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := reward.ParseEarningRules(data)
		if err != nil {
			require.ErrorIs(t, err, reward.ErrInvalidConfig)
			return
		}
		for _, r := range rules {
			require.NotEmpty(t, r.ID)
			require.False(t, r.Rate.IsNegative() || r.Multiplier.IsNegative() || r.Bonus < 0)
		}
	})
}
