package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func TestLedgerTrialBalance(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend, place string) {
		ctx := context.Background()
		s := b.open(t, place, sqlstoreOptions())
		l, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, Assets: ledgertest.Assets()})
		require.NoError(t, err)
		sum, err := l.TrialBalance(ctx, tenantA, ledgertest.Points)
		require.NoError(t, err)
		assert.True(t, sum.IsZero())
		for i, to := range []string{"member:a", "member:b", "member:a"} {
			_, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: "k" + string(rune('0'+i)),
				Postings: []ledger.Posting{{Source: ledger.World, Destination: to, Amount: money.FromMinor(int64(100*(i+1)), ledgertest.Points)}}})
			require.NoError(t, err)
		}
		_, err = l.Transfer(ctx, tenantB, ledger.TransferRequest{Key: "k",
			Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:a", Amount: money.FromMinor(5, ledgertest.Points)}}})
		require.NoError(t, err)
		sum, err = l.TrialBalance(ctx, tenantA, ledgertest.Points)
		require.NoError(t, err)
		assert.True(t, sum.IsZero(), sum.String())

		// A row changed behind the ledger's back shows.
		db := b.raw(t, place)
		_, err = db.ExecContext(ctx, "UPDATE "+s.TablePrefix()+"ledger_balances SET posted = posted + 3 WHERE tenant = $1 AND account = $2",
			string(tenantA), "member:b")
		require.NoError(t, err)
		sum, err = l.TrialBalance(ctx, tenantA, ledgertest.Points)
		require.NoError(t, err)
		assert.Equal(t, int64(3), mustMinor(t, sum))
		sum, err = l.TrialBalance(ctx, tenantB, ledgertest.Points)
		require.NoError(t, err)
		assert.True(t, sum.IsZero(), sum.String())
	})
}

func sqlstoreOptions() sqlstore.Options { return sqlstore.Options{} }

func mustMinor(t *testing.T, a money.Amount) int64 {
	t.Helper()
	m, err := a.Minor()
	require.NoError(t, err)
	return m
}
