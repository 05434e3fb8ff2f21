package reward_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// world is one memory store with a ledger, a coupon service and an
// Engine whose awards go through the concrete awarders.
type world struct {
	mem     *memory.Store
	clock   *storage.FakeClock
	ledger  *ledger.Ledger
	coupons *coupon.Service
	engine  *reward.Engine
	points  *reward.LedgerAwarder
}

func newWorld(t *testing.T, la reward.LedgerAwarderConfig) *world {
	t.Helper()
	w := &world{clock: storage.NewFakeClock(t0)}
	var err error
	w.mem, err = memory.New(memory.Options{Clock: w.clock})
	require.NoError(t, err)
	assets, err := money.NewRegistry(pts)
	require.NoError(t, err)
	w.ledger, err = ledger.New(ledger.Config{Store: w.mem.Ledger(), Tx: w.mem, Clock: w.clock, Assets: assets})
	require.NoError(t, err)
	w.coupons, err = coupon.New(coupon.Config{Store: w.mem.Coupons(), Tx: w.mem, Clock: w.clock})
	require.NoError(t, err)
	_, err = w.coupons.CreateTemplate(context.Background(), coupon.Template{
		Tenant: tenant, ID: "c10",
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: money.MustParse("10.00", money.USD)},
		Validity: coupon.Validity{Days: 30},
		Limits:   coupon.Limits{Stock: 100},
	})
	require.NoError(t, err)
	la.Ledger, la.Clock, la.Outbox = w.ledger, w.clock, w.mem
	w.points, err = reward.NewLedgerAwarder(la)
	require.NoError(t, err)
	ca, err := reward.NewCouponAwarder(w.coupons)
	require.NoError(t, err)
	w.engine, err = reward.New(reward.Config{Store: w.mem.Rewards(), Tx: w.mem, Clock: w.clock,
		Awarder: reward.Awarders{reward.AwardPoints: w.points, reward.AwardCoupon: ca}})
	require.NoError(t, err)
	return w
}

func (w *world) balance(t *testing.T, account string) int64 {
	t.Helper()
	b, err := w.ledger.Balance(context.Background(), tenant, account, pts)
	require.NoError(t, err)
	m, err := b.Posted.Minor()
	require.NoError(t, err)
	return m
}

// outbox returns the pending outbox messages by topic.
func outbox(t *testing.T, s storage.OutboxStore) map[string][]storage.Message {
	t.Helper()
	out := map[string][]storage.Message{}
	for p := range storage.OutboxPartitions {
		msgs, err := s.PendingOutbox(context.Background(), p, 1000)
		require.NoError(t, err)
		for _, m := range msgs {
			out[m.Topic] = append(out[m.Topic], m)
		}
	}
	return out
}

func awardCampaign() reward.Campaign {
	return reward.Campaign{ID: "sales", Kind: reward.Challenge, Status: reward.StatusActive,
		Start: t0, End: t0.AddDate(0, 1, 0), EventTypes: []reward.EventType{reward.OrderInstalled},
		Participant: reward.ParticipantStaff, Indicator: reward.Indicator{Strategy: reward.OrderCount},
		Clawback: reward.ClawbackOnReverse,
		Tiers: []reward.Tier{
			{Target: 2, Award: points(100)},
			{Target: 3, Award: reward.Award{Kind: reward.AwardCoupon, Template: "c10", Quantity: 2, Cost: 20}},
		}}
}

func staffOrder(id string, at time.Duration) reward.Event {
	return reward.Event{ID: id, Type: reward.OrderInstalled, Time: t0.Add(at), StaffID: "s1", UserID: "u-" + id,
		Amount: money.MustParse("50.00", money.USD)}
}

func staffRefund(id, of string, at time.Duration) reward.Event {
	return reward.Event{ID: id, Type: reward.Refund, Time: t0.Add(at), OriginalID: of, StaffID: "s1"}
}

func TestAwardersGrantAndClawBack(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	_, err := w.engine.PutCampaign(ctx, tenant, awardCampaign())
	require.NoError(t, err)

	for i, ev := range []reward.Event{staffOrder("o1", time.Hour), staffOrder("o2", 2*time.Hour), staffOrder("o2", 2*time.Hour), staffOrder("o3", 3*time.Hour)} {
		_, err := w.engine.Handle(ctx, tenant, ev)
		require.NoError(t, err, "event %d", i)
	}
	acct := w.points.Account(reward.AwardPoints, "sales", "s1")
	assert.Equal(t, "member:s1:points", acct)
	assert.Equal(t, int64(100), w.balance(t, acct), "tier 0 paid once despite the duplicate")
	held, err := w.coupons.ListByUser(ctx, tenant, "s1", coupon.StateActivated)
	require.NoError(t, err)
	require.Len(t, held, 2, "tier 1 gives two coupons")

	// Refund o3: the coupon tier is clawed back, its coupons frozen; one
	// was used in the meantime and stays used.
	lock, err := w.coupons.Lock(ctx, coupon.LockRequest{Tenant: tenant, CouponID: held[0].ID, OrderID: "buy-1", UserID: "s1",
		Discount: money.MustParse("10.00", money.USD)})
	require.NoError(t, err)
	_, err = w.coupons.Use(ctx, coupon.OrderRequest{Tenant: tenant, OrderID: "buy-1"})
	require.NoError(t, err)
	_, err = w.engine.Handle(ctx, tenant, staffRefund("r3", "o3", 4*time.Hour))
	require.NoError(t, err)
	used, err := w.coupons.Coupon(ctx, tenant, lock.Coupon.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateUsed, used.State)
	other, err := w.coupons.Coupon(ctx, tenant, held[1].ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateFrozen, other.State)

	// Spend 60 of the 100 points, then refund o2: 40 come back, 60 are a
	// recorded shortfall.
	_, err = w.ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: "spend", Postings: []ledger.Posting{
		{Source: acct, Destination: ledger.World, Amount: money.FromMinor(60, pts)}}})
	require.NoError(t, err)
	_, err = w.engine.Handle(ctx, tenant, staffRefund("r2", "o2", 5*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(0), w.balance(t, acct))

	msgs := outbox(t, w.mem)
	require.Len(t, msgs[reward.TopicGranted], 2)
	require.Len(t, msgs[reward.TopicRevoked], 2)
	require.Len(t, msgs[reward.TopicShortfall], 1)
	var sf reward.ShortfallMessage
	require.NoError(t, json.Unmarshal(msgs[reward.TopicShortfall][0].Payload, &sf))
	assert.Equal(t, reward.ShortfallMessage{Tenant: tenant, Key: sf.Key, Campaign: "sales", Participant: "s1", Account: acct,
		Asset: "POINTS", Owed: 100, Taken: 40, Shortfall: 60, Reversal: sf.Reversal}, sf)
	assert.NotEmpty(t, sf.Reversal)
	var gm reward.GrantMessage
	require.NoError(t, json.Unmarshal(msgs[reward.TopicGranted][0].Payload, &gm))
	assert.Equal(t, "sales", gm.Campaign)
	assert.NotEmpty(t, gm.Ref)

	// Reaching the tier again grants it again, under a new key.
	_, err = w.engine.Handle(ctx, tenant, staffOrder("o4", 6*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(100), w.balance(t, acct))
}

func TestLedgerAwarderShortfallFail(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{Shortfall: reward.ShortfallFail})
	c := awardCampaign()
	c.Tiers = c.Tiers[:1]
	_, err := w.engine.PutCampaign(ctx, tenant, c)
	require.NoError(t, err)
	for _, ev := range []reward.Event{staffOrder("o1", time.Hour), staffOrder("o2", 2*time.Hour)} {
		_, err := w.engine.Handle(ctx, tenant, ev)
		require.NoError(t, err)
	}
	_, err = w.ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: "spend", Postings: []ledger.Posting{
		{Source: "member:s1:points", Destination: ledger.World, Amount: money.FromMinor(1, pts)}}})
	require.NoError(t, err)
	_, err = w.engine.Handle(ctx, tenant, staffRefund("r2", "o2", 3*time.Hour))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	p, err := w.engine.Progress(ctx, tenant, "sales", "all", "s1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), p.Value, "the refund rolled back")
	assert.Equal(t, int64(99), w.balance(t, "member:s1:points"))
}

func TestLedgerAwarderBudgetAccountAndTTL(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{Source: "campaign:{campaign}:budget", PointsTTL: 24 * time.Hour})
	c := awardCampaign()
	c.Tiers = c.Tiers[:1]
	_, err := w.engine.PutCampaign(ctx, tenant, c)
	require.NoError(t, err)
	_, err = w.engine.Handle(ctx, tenant, staffOrder("o1", time.Hour))
	require.NoError(t, err)
	_, err = w.engine.Handle(ctx, tenant, staffOrder("o2", 2*time.Hour))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "an unfunded budget account refuses the award")
	_, err = w.engine.Progress(ctx, tenant, "sales", "all", "s1")
	require.NoError(t, err)

	_, err = w.ledger.Transfer(ctx, tenant, ledger.TransferRequest{Key: "fund", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "campaign:sales:budget", Amount: money.FromMinor(1000, pts)}}})
	require.NoError(t, err)
	_, err = w.engine.Handle(ctx, tenant, staffOrder("o2", 2*time.Hour))
	require.NoError(t, err, "redelivery succeeds once funded")
	assert.Equal(t, int64(900), w.balance(t, "campaign:sales:budget"))
	assert.Equal(t, int64(100), w.balance(t, "member:s1:points"))

	w.clock.Advance(25 * time.Hour)
	_, err = w.ledger.SweepExpired(ctx, tenant, w.clock.Now(), 100)
	require.NoError(t, err)
	assert.Equal(t, int64(0), w.balance(t, "member:s1:points"), "awarded points expire")
}

func TestAwardersRefuseWrongKinds(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	_, err := w.points.Grant(ctx, tenant, reward.AwardRequest{Key: "k", Award: reward.Award{Kind: reward.AwardCoupon, Template: "c10"}})
	require.ErrorIs(t, err, reward.ErrInvalidArgument)
	_, err = reward.Awarders{}.Grant(ctx, tenant, reward.AwardRequest{Key: "k", Award: points(1)})
	require.ErrorIs(t, err, reward.ErrInvalidArgument)
	_, err = reward.NewLedgerAwarder(reward.LedgerAwarderConfig{})
	require.ErrorIs(t, err, reward.ErrInvalidConfig)
	_, err = reward.NewLedgerAwarder(reward.LedgerAwarderConfig{Ledger: w.ledger, Points: "bad account{participant}"})
	require.ErrorIs(t, err, reward.ErrInvalidConfig)
	_, err = reward.NewCouponAwarder(nil)
	require.ErrorIs(t, err, reward.ErrInvalidConfig)

	// Grant is idempotent on the key: a re-run posts once.
	req := reward.AwardRequest{Key: "reward/x/all/p/tier/0/1", Campaign: "x", Participant: "p", Slot: "tier/0", Award: points(5)}
	ref1, err := w.points.Grant(ctx, tenant, req)
	require.NoError(t, err)
	ref2, err := w.points.Grant(ctx, tenant, req)
	require.NoError(t, err)
	assert.Equal(t, ref1, ref2)
	assert.Equal(t, int64(5), w.balance(t, "member:p:points"))
	require.NoError(t, w.points.Revoke(ctx, tenant, req, ref1))
	require.NoError(t, w.points.Revoke(ctx, tenant, req, ref1), "a second revoke takes nothing more")
	assert.Equal(t, int64(0), w.balance(t, "member:p:points"))
	require.ErrorIs(t, w.points.Revoke(ctx, tenant, req, ""), reward.ErrInvalidArgument)
	require.False(t, errors.Is(w.points.Revoke(ctx, tenant, req, ref1), ledger.ErrOverReversal))
}
