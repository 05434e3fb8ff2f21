package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// TestGroupCommitTransfers sends many transfers at once through two
// stores (two hosts) that group them one statement at a time, so that
// groups mix transfers that fit, transfers that go below the floor and
// the same key sent twice. Each call must get what it would have got
// alone: exactly as many transfers commit as the funds allow, every
// other one fails with ErrInsufficientFunds, a key sent twice commits
// once and answers both calls with one transaction, and the balances add
// up.
func TestGroupCommitTransfers(t *testing.T) {
	const (
		funds, each = 100, 7 // 14 transfers fit
		callers     = 48
		dupes       = 8 // keys k-0..k-7 are sent twice more
	)
	eachBackend(t, func(t *testing.T, b backend, place string) {
		ctx := context.Background()
		opts := sqlstore.Options{GroupCommit: 1}
		s1 := b.open(t, place, opts)
		l1, err := ledger.New(ledger.Config{Store: s1.Ledger(), Tx: s1, Assets: ledgertest.Assets()})
		require.NoError(t, err)
		s2 := b.open(t, place, opts)
		l2, err := ledger.New(ledger.Config{Store: s2.Ledger(), Tx: s2, Assets: ledgertest.Assets()})
		require.NoError(t, err)
		_, err = l1.Transfer(ctx, tenantA, ledger.TransferRequest{Key: "fund", Postings: []ledger.Posting{
			{Source: ledger.World, Destination: "pool", Amount: benchPts(funds)}}})
		require.NoError(t, err)

		type result struct {
			key string
			id  string
			err error
		}
		results := make(chan result, callers+2*dupes)
		var wg sync.WaitGroup
		send := func(l *ledger.Ledger, i int) {
			defer wg.Done()
			key := fmt.Sprintf("k-%d", i)
			tx, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: key, Postings: []ledger.Posting{
				{Source: "pool", Destination: fmt.Sprintf("u:%d", i), Amount: benchPts(each)}}})
			r := result{key: key, err: err}
			if err == nil {
				r.id = tx.ID
			}
			results <- r
		}
		for i := range callers {
			wg.Add(1)
			go send([]*ledger.Ledger{l1, l2}[i%2], i)
		}
		wg.Wait()
		// The same keys again, each twice at once: all replays.
		for i := range dupes {
			wg.Add(2)
			go send(l1, i)
			go send(l2, i)
		}
		wg.Wait()
		close(results)

		ids := make(map[string]string) // key -> transaction ID
		for r := range results {
			if r.err != nil {
				require.ErrorIs(t, r.err, ledger.ErrInsufficientFunds, r.key)
				continue
			}
			if prev, ok := ids[r.key]; ok {
				assert.Equal(t, prev, r.id, "one key, one transaction: %s", r.key)
			}
			ids[r.key] = r.id
		}
		assert.Len(t, ids, funds/each)
		for key, id := range ids {
			tx, err := l1.TransactionByKey(ctx, tenantA, key)
			require.NoError(t, err)
			assert.Equal(t, id, tx.ID)
		}
		pool, err := l2.Balance(ctx, tenantA, "pool", ledgertest.Points)
		require.NoError(t, err)
		assert.Equal(t, int64(funds-funds/each*each), minor(t, pool.Posted))
		var paid int64
		for i := range callers {
			bal, err := l1.Balance(ctx, tenantA, fmt.Sprintf("u:%d", i), ledgertest.Points)
			require.NoError(t, err)
			if _, ok := ids[fmt.Sprintf("k-%d", i)]; ok {
				assert.Equal(t, int64(each), minor(t, bal.Posted))
			} else {
				assert.Zero(t, minor(t, bal.Posted))
			}
			paid += minor(t, bal.Posted)
		}
		assert.Equal(t, int64(funds/each*each), paid)
	})
}

func minor(t *testing.T, a money.Amount) int64 {
	t.Helper()
	n, err := a.Minor()
	require.NoError(t, err)
	return n
}

// TestTransferSpendsLotsFirst: a transfer that debits a balance holding an
// expiring lot takes from the lot first, however its postings touch the
// balance. Each case once broke the one-statement paths:
//   - two postings debit the balance: only the first took from the lot;
//   - one posting credits the balance and another debits it as much (its
//     net is zero): the batch statement checked for lots only the
//     balances a transfer lowered, so it left the lot whole (found by the
//     ledger's model test on PostgreSQL).
func TestTransferSpendsLotsFirst(t *testing.T) {
	usd := money.MustCurrency("USD", 2)
	cents := func(n int64) money.Amount { return money.FromMinor(n, usd) }
	tests := []struct {
		name       string
		account    string
		lot        int64 // credited to account first, expiring in an hour
		spend      []ledger.Posting
		wantLot    int64 // left in the lot
		wantPosted int64
	}{
		{"two debits", "member:1", 40, []ledger.Posting{
			{Source: "member:1", Destination: ledger.World, Amount: cents(1)},
			{Source: "member:1", Destination: ledger.World, Amount: cents(1)}}, 38, 38},
		{"credit and debit as much", "merchant:1", 1, []ledger.Posting{
			{Source: ledger.World, Destination: "merchant:1", Amount: cents(4)},
			{Source: "merchant:1", Destination: "member:2", Amount: cents(4)}}, 0, 1},
	}
	eachBackend(t, func(t *testing.T, b backend, place string) {
		ctx := context.Background()
		s := b.open(t, place, sqlstore.Options{})
		l, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, Assets: ledgertest.Assets()})
		require.NoError(t, err)
		for _, tt := range tests { // each case has accounts of its own
			t.Run(tt.name, func(t *testing.T) {
				_, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: tt.name + "/credit", Postings: []ledger.Posting{
					{Source: ledger.World, Destination: tt.account, Amount: cents(tt.lot), ExpiresAt: time.Now().Add(time.Hour)}}})
				require.NoError(t, err)
				_, err = l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: tt.name + "/spend", Postings: tt.spend})
				require.NoError(t, err)
				left, err := l.ExpiringBy(ctx, tenantA, tt.account, usd, time.Now().Add(2*time.Hour))
				require.NoError(t, err)
				assert.Equal(t, tt.wantLot, minor(t, left), "left in the lot")
				bal, err := l.Balance(ctx, tenantA, tt.account, usd)
				require.NoError(t, err)
				assert.Equal(t, tt.wantPosted, minor(t, bal.Posted))
			})
		}
	})
}
