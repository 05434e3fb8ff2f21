package reward_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

func ptsN(n int64) money.Amount { return money.FromMinor(n, pts) }

func TestLoyaltyGrant(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, nil)
	register(t, l, "alice")
	g := reward.PointsGrant{Member: "alice", Points: ptsN(600), Key: "welcome", Reason: "sign-up bonus"}
	got, err := l.Grant(ctx, tenant, g)
	require.NoError(t, err)
	assert.Equal(t, "600", got.Points.Decimal().String())
	assert.Equal(t, "600", got.Lifetime.Decimal().String())
	assert.Equal(t, "silver", got.Tier)
	require.NotNil(t, got.TierChange)
	assert.NotEmpty(t, got.TxID)

	again, err := l.Grant(ctx, tenant, g)
	require.NoError(t, err)
	assert.Equal(t, got.TxID, again.TxID)
	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.Equal(t, "600", m.Points.Decimal().String())

	g.Points = ptsN(601)
	_, err = l.Grant(ctx, tenant, g)
	require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)

	// A grant and an accrual may share a key.
	_, err = l.Accrue(ctx, tenant, reward.Accrual{Key: "welcome", Member: "alice", Amount: usd("5.00")})
	require.NoError(t, err)

	for name, bad := range map[string]reward.PointsGrant{
		"no key":        {Member: "alice", Points: ptsN(1)},
		"zero":          {Member: "alice", Points: ptsN(0), Key: "k1"},
		"negative":      {Member: "alice", Points: ptsN(-5), Key: "k2"},
		"other asset":   {Member: "alice", Points: usd("1.00"), Key: "k3"},
		"bad member":    {Member: "a b", Points: ptsN(1), Key: "k4"},
		"expired":       {Member: "alice", Points: ptsN(1), Key: "k5", ExpiresAt: t0.Add(-time.Hour)},
		"too many":      {Member: "alice", Points: ptsN(ledger.MaxMinor + 1), Key: "k6"},
		"no points set": {Member: "alice", Key: "k7"},
	} {
		_, err := l.Grant(ctx, tenant, bad)
		assert.ErrorIs(t, err, reward.ErrInvalidArgument, name)
	}
	_, err = l.Grant(ctx, tenant, reward.PointsGrant{Member: "nobody", Points: ptsN(1), Key: "k8"})
	require.ErrorIs(t, err, reward.ErrMemberNotFound)
	msgs := outbox(t, w.mem)
	assert.Len(t, msgs[reward.TopicAccrued], 2)
}

func TestLoyaltyGrantExpires(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, nil)
	register(t, l, "alice")
	exp := t0.Add(48 * time.Hour)
	got, err := l.Grant(ctx, tenant, reward.PointsGrant{Member: "alice", Points: ptsN(70), Key: "g", ExpiresAt: exp})
	require.NoError(t, err)
	assert.True(t, got.ExpiresAt.Equal(exp))
	_, err = w.ledger.SweepExpired(ctx, tenant, exp.Add(time.Second), 100)
	require.NoError(t, err)
	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.True(t, m.Points.IsZero(), m.Points.String())
	assert.Equal(t, "70", m.Lifetime.Decimal().String())
}

func TestLoyaltyRedeemPoints(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, nil)
	register(t, l, "alice")
	_, err := l.Grant(ctx, tenant, reward.PointsGrant{Member: "alice", Points: ptsN(100), Key: "g"})
	require.NoError(t, err)

	r := reward.PointsRedemption{Member: "alice", Points: ptsN(30), Key: "pay-1", Reason: "checkout"}
	got, err := l.RedeemPoints(ctx, tenant, r)
	require.NoError(t, err)
	assert.Equal(t, "checkout", got.Reason)
	assert.Empty(t, got.Offer)
	again, err := l.RedeemPoints(ctx, tenant, r)
	require.NoError(t, err)
	assert.Equal(t, got.TxID, again.TxID)

	_, err = l.RedeemPoints(ctx, tenant, reward.PointsRedemption{Member: "alice", Points: ptsN(71), Key: "pay-2"})
	require.ErrorIs(t, err, reward.ErrInsufficientPoints)
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.Equal(t, "70", m.Points.Decimal().String())
	assert.Equal(t, "100", m.Lifetime.Decimal().String(), "redeeming does not lower lifetime points")

	r.Points = ptsN(31)
	_, err = l.RedeemPoints(ctx, tenant, r)
	require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
	for name, bad := range map[string]reward.PointsRedemption{
		"no key":      {Member: "alice", Points: ptsN(1)},
		"zero":        {Member: "alice", Points: ptsN(0), Key: "k1"},
		"other asset": {Member: "alice", Points: usd("1.00"), Key: "k2"},
	} {
		_, err := l.RedeemPoints(ctx, tenant, bad)
		assert.ErrorIs(t, err, reward.ErrInvalidArgument, name)
	}
	_, err = l.RedeemPoints(ctx, tenant, reward.PointsRedemption{Member: "nobody", Points: ptsN(1), Key: "k3"})
	require.ErrorIs(t, err, reward.ErrMemberNotFound)
	assert.Len(t, outbox(t, w.mem)[reward.TopicRedeemed], 1)
}

func TestLoyaltyReverse(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, nil)
	register(t, l, "alice")
	_, err := l.Accrue(ctx, tenant, reward.Accrual{Key: "o1", Member: "alice", Amount: usd("400.00")})
	require.NoError(t, err)
	acc, err := l.Accrue(ctx, tenant, reward.Accrual{Key: "o2", Member: "alice", Amount: usd("200.00")})
	require.NoError(t, err)
	require.Equal(t, "silver", acc.Tier)

	rev, err := l.Reverse(ctx, tenant, "o2", "order refunded")
	require.NoError(t, err)
	assert.Equal(t, "200", rev.Points.Decimal().String())
	assert.Equal(t, "200", rev.Reversed.Decimal().String())
	assert.True(t, rev.Shortfall.IsZero())
	assert.Equal(t, "400", rev.Lifetime.Decimal().String())
	assert.Equal(t, "member", rev.Tier)
	require.NotNil(t, rev.TierChange)
	assert.False(t, l.Upgrade(*rev.TierChange))

	again, err := l.Reverse(ctx, tenant, "o2", "order refunded")
	require.NoError(t, err)
	assert.Equal(t, rev.TxID, again.TxID)
	_, err = l.Reverse(ctx, tenant, "o2", "another reason")
	require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)

	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.Equal(t, "400", m.Points.Decimal().String())
	assert.Equal(t, "400", m.Lifetime.Decimal().String())

	_, err = l.Reverse(ctx, tenant, "nope", "")
	require.ErrorIs(t, err, reward.ErrAccrualNotFound)
	_, err = l.Reverse(ctx, tenant, "", "")
	require.ErrorIs(t, err, reward.ErrInvalidArgument)
	assert.Len(t, outbox(t, w.mem)[reward.TopicReversed], 1)
}

func TestLoyaltyReverseGrantWithShortfallInCallerTx(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, reward.LedgerAwarderConfig{})
	l := newProgram(t, w, nil)
	register(t, l, "alice")
	_, err := l.Grant(ctx, tenant, reward.PointsGrant{Member: "alice", Points: ptsN(100), Key: "bonus"})
	require.NoError(t, err)
	_, err = l.RedeemPoints(ctx, tenant, reward.PointsRedemption{Member: "alice", Points: ptsN(70), Key: "spent"})
	require.NoError(t, err)

	var rev reward.Reversal
	err = w.mem.InTx(ctx, func(ctx context.Context) error {
		var err error
		rev, err = l.Reverse(ctx, tenant, "bonus", "granted by mistake")
		if err != nil {
			return err
		}
		// The caller's transaction is still usable.
		_, err = l.Grant(ctx, tenant, reward.PointsGrant{Member: "alice", Points: ptsN(5), Key: "after"})
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, "100", rev.Points.Decimal().String())
	assert.Equal(t, "30", rev.Reversed.Decimal().String())
	assert.Equal(t, "70", rev.Shortfall.Decimal().String())
	m, err := l.Member(ctx, tenant, "alice")
	require.NoError(t, err)
	assert.Equal(t, "5", m.Points.Decimal().String())
	assert.Equal(t, "5", m.Lifetime.Decimal().String())

	// Nothing available at all: the whole accrual is a shortfall.
	_, err = l.Grant(ctx, tenant, reward.PointsGrant{Member: "alice", Points: ptsN(10), Key: "b2"})
	require.NoError(t, err)
	_, err = l.RedeemPoints(ctx, tenant, reward.PointsRedemption{Member: "alice", Points: ptsN(15), Key: "spent2"})
	require.NoError(t, err)
	rev, err = l.Reverse(ctx, tenant, "b2", "")
	require.NoError(t, err)
	assert.True(t, rev.Reversed.IsZero())
	assert.Empty(t, rev.TxID)
	assert.Equal(t, "10", rev.Shortfall.Decimal().String())
}
