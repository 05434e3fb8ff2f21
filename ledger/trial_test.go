package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

func TestTrialBalance(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	zero := func(t *testing.T) {
		t.Helper()
		sum, err := f.l.TrialBalance(ctx, tenant, points)
		require.NoError(t, err)
		assert.True(t, sum.IsZero(), sum.String())
		assert.Equal(t, points, sum.Currency())
	}
	zero(t) // no accounts yet
	f.move(t, "t1", ledger.World, "member:a", pts(500))
	f.move(t, "t2", "member:a", "member:b", pts(120))
	tx := f.move(t, "t3", ledger.World, "member:b", pts(80))
	_, err := f.l.Reverse(ctx, tenant, tx.ID, ledger.ReverseRequest{Key: "r3"})
	require.NoError(t, err)
	_, err = f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "t4",
		Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:c", Amount: pts(40), ExpiresAt: f.clock.Now().Add(time.Hour)}}})
	require.NoError(t, err)
	_, err = f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "h1", Account: "member:a", Destination: "shop", Amount: pts(30)})
	require.NoError(t, err)
	zero(t)
	f.clock.Advance(2 * time.Hour)
	_, err = f.l.SweepExpired(ctx, tenant, f.clock.Now(), 10)
	require.NoError(t, err)
	zero(t)
	assert.Equal(t, int64(-540), f.posted(t, ledger.World, points), "the accounts are not all zero")
	assert.Equal(t, int64(40), f.posted(t, "platform:expired", points))

	// Another tenant's postings are its own.
	_, err = f.l.Transfer(ctx, "other", ledger.TransferRequest{Key: "t1",
		Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:a", Amount: pts(7)}}})
	require.NoError(t, err)
	zero(t)

	_, err = f.l.TrialBalance(ctx, tenant, money.MustCurrency("XYZ", 0))
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
	_, err = f.l.TrialBalance(ctx, "a b", points)
	require.ErrorIs(t, err, storage.ErrInvalidTenant)
}

// plainStore hides the optional TotalStore of the adapter.
type plainStore struct{ ledger.Store }

func TestTrialBalanceUnsupported(t *testing.T) {
	f := setup(t)
	reg, err := money.NewRegistry(points)
	require.NoError(t, err)
	l, err := ledger.New(ledger.Config{Store: plainStore{f.s.Ledger()}, Tx: f.s, Clock: f.clock, Assets: reg})
	require.NoError(t, err)
	_, err = l.TrialBalance(context.Background(), tenant, points)
	require.ErrorIs(t, err, ledger.ErrUnsupported)
}

func ExampleLedger_TrialBalance() {
	ctx := context.Background()
	l, _ := newExampleLedger()
	points := money.MustCurrency("POINTS", 0)
	_, err := l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "accrual-1", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:42:points", Amount: money.FromMinor(100, points)},
		{Source: "member:42:points", Destination: "platform:redeemed", Amount: money.FromMinor(30, points)},
	}})
	if err != nil {
		panic(err)
	}
	sum, err := l.TrialBalance(ctx, "shop", points)
	if err != nil {
		panic(err)
	}
	fmt.Println(sum.IsZero())
	// Output: true
}
