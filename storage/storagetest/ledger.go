package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// ledgerer is what an adapter offers for package ledger.
type ledgerer interface {
	Ledger() ledger.Store
}

func ledgerStore(t *testing.T, s Store) ledger.Store {
	t.Helper()
	l, ok := any(s).(ledgerer)
	if !ok {
		t.Skip("adapter has no Ledger()")
	}
	return l.Ledger()
}

var lgT0 = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

func lgPts(n int64) money.Amount { return money.FromMinor(n, ledgertest.Points) }

func newTestLedger(t *testing.T, s Store, clock storage.Clock) *ledger.Ledger {
	t.Helper()
	l, err := ledger.New(ledger.Config{Store: ledgerStore(t, s), Tx: s, Clock: clock, Assets: ledgertest.Assets(), ExpiryAccount: "platform:expired"})
	require.NoError(t, err)
	return l
}

func lgMove(ctx context.Context, l *ledger.Ledger, tenant storage.TenantID, key, from, to string, amt money.Amount) (*ledger.Transaction, error) {
	return l.Transfer(ctx, tenant, ledger.TransferRequest{Key: key, Postings: []ledger.Posting{{Source: from, Destination: to, Amount: amt}}})
}

func lgPosted(t *testing.T, l *ledger.Ledger, tenant storage.TenantID, account string) int64 {
	t.Helper()
	b, err := l.Balance(context.Background(), tenant, account, ledgertest.Points)
	require.NoError(t, err)
	m, err := b.Posted.Minor()
	require.NoError(t, err)
	return m
}

func lgAvailable(t *testing.T, l *ledger.Ledger, tenant storage.TenantID, account string) int64 {
	t.Helper()
	b, err := l.Balance(context.Background(), tenant, account, ledgertest.Points)
	require.NoError(t, err)
	m, err := b.Available.Minor()
	require.NoError(t, err)
	return m
}

// RunLedger checks an adapter's ledger.Store: the ledger's behaviour end
// to end, a lighter run of the ledgertest model, and concurrent transfers
// on hot accounts from two store instances.
func RunLedger(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("transfer, replay and key reuse", func(t *testing.T) {
		s := h.Open(t)
		l := newTestLedger(t, s, storage.NewFakeClock(lgT0))
		tx, err := lgMove(ctx, l, tenantA, "k1", ledger.World, "member:1", lgPts(100))
		require.NoError(t, err)
		again, err := lgMove(ctx, l, tenantA, "k1", ledger.World, "member:1", lgPts(100))
		require.NoError(t, err)
		assert.Equal(t, tx.ID, again.ID)
		_, err = lgMove(ctx, l, tenantA, "k1", ledger.World, "member:1", lgPts(101))
		require.ErrorIs(t, err, ledger.ErrKeyReused)
		require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
		assert.Equal(t, int64(100), lgPosted(t, l, tenantA, "member:1"))
		assert.Equal(t, int64(-100), lgPosted(t, l, tenantA, ledger.World))

		got, err := l.TransactionByKey(ctx, tenantA, "k1")
		require.NoError(t, err)
		assert.Equal(t, tx.ID, got.ID)
		assert.Equal(t, tx.At.UTC(), got.At.UTC())
		require.Len(t, got.Postings, 1)
		assert.True(t, got.Postings[0].Amount.Equal(lgPts(100)))
		_, err = l.TransactionByID(ctx, tenantB, tx.ID)
		require.ErrorIs(t, err, ledger.ErrTransactionNotFound, "tenants are isolated")
		assert.Equal(t, int64(0), lgPosted(t, l, tenantB, "member:1"))

		var n int
		for p := range storage.OutboxPartitions {
			msgs, err := s.PendingOutbox(ctx, p, 100)
			require.NoError(t, err)
			for _, m := range msgs {
				if m.Topic == ledger.TopicTransactionCommitted {
					assert.Equal(t, tx.ID, m.AggregateID)
					n++
				}
			}
		}
		assert.Equal(t, 1, n, "one message per committed transaction")
	})

	t.Run("multi-posting, legs and metadata", func(t *testing.T) {
		s := h.Open(t)
		l := newTestLedger(t, s, storage.NewFakeClock(lgT0))
		tx, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: "split", Metadata: map[string]string{"order": "o-1"}, Legs: []ledger.Leg{
			{Account: "customer:1", Amount: money.MustParse("-10.00", money.USD)},
			{Account: "merchant:1", Amount: money.MustParse("9.50", money.USD)},
			{Account: "platform", Amount: money.MustParse("0.50", money.USD)},
		}})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		assert.Nil(t, tx)
		_, err = l.OpenAccount(ctx, tenantA, ledger.Account{ID: "customer:1", Overdraft: ledger.Overdraft{Kind: ledger.UnboundedOverdraft}})
		require.NoError(t, err)
		tx, err = l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: "split", Metadata: map[string]string{"order": "o-1"}, Legs: []ledger.Leg{
			{Account: "customer:1", Amount: money.MustParse("-10.00", money.USD)},
			{Account: "merchant:1", Amount: money.MustParse("9.50", money.USD)},
			{Account: "platform", Amount: money.MustParse("0.50", money.USD)},
		}})
		require.NoError(t, err)
		got, err := l.TransactionByID(ctx, tenantA, tx.ID)
		require.NoError(t, err)
		assert.Equal(t, "o-1", got.Metadata["order"])
		// What a caller is given is its own: changing it changes nothing stored.
		tx.Metadata["order"], got.Metadata["order"] = "changed", "changed"
		got, err = l.TransactionByID(ctx, tenantA, tx.ID)
		require.NoError(t, err)
		assert.Equal(t, "o-1", got.Metadata["order"])
		meta := map[string]string{"region": "eu"}
		opened, err := l.OpenAccount(ctx, tenantA, ledger.Account{ID: "merchant:meta", Metadata: meta})
		require.NoError(t, err)
		meta["region"], opened.Metadata["region"] = "changed", "changed"
		read, err := l.Account(ctx, tenantA, "merchant:meta")
		require.NoError(t, err)
		assert.Equal(t, "eu", read.Metadata["region"])
		read.Metadata["region"] = "changed"
		read, err = l.Account(ctx, tenantA, "merchant:meta")
		require.NoError(t, err)
		assert.Equal(t, "eu", read.Metadata["region"])
		require.Len(t, got.Postings, 2)
		assert.Equal(t, "merchant:1", got.Postings[0].Destination)
		assert.Equal(t, "9.50", got.Postings[0].Amount.StringFixed())
		b, err := l.Balance(ctx, tenantA, "customer:1", money.USD)
		require.NoError(t, err)
		assert.Equal(t, "-10.00", b.Posted.StringFixed())
		acc, err := l.Account(ctx, tenantA, "merchant:1")
		require.NoError(t, err)
		assert.Equal(t, ledger.NoOverdraft, acc.Overdraft.Kind)
		acc, err = l.Account(ctx, tenantA, "customer:1")
		require.NoError(t, err)
		assert.Equal(t, ledger.UnboundedOverdraft, acc.Overdraft.Kind)
	})

	t.Run("floors and overdraft policies", func(t *testing.T) {
		s := h.Open(t)
		l := newTestLedger(t, s, storage.NewFakeClock(lgT0))
		_, err := lgMove(ctx, l, tenantA, "a", ledger.World, "member:1", lgPts(10))
		require.NoError(t, err)
		_, err = lgMove(ctx, l, tenantA, "b", "member:1", "shop", lgPts(11))
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		_, err = lgMove(ctx, l, tenantA, "c", "member:1", "shop", lgPts(10))
		require.NoError(t, err)
		_, err = l.OpenAccount(ctx, tenantA, ledger.Account{ID: "merchant:1", Overdraft: ledger.Overdraft{Kind: ledger.BoundedOverdraft, Limit: lgPts(50)}})
		require.NoError(t, err)
		_, err = lgMove(ctx, l, tenantA, "d", "merchant:1", "shop", lgPts(50))
		require.NoError(t, err)
		_, err = lgMove(ctx, l, tenantA, "e", "merchant:1", "shop", lgPts(1))
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		// the floor moves with the policy, for balances that exist already
		_, err = l.OpenAccount(ctx, tenantA, ledger.Account{ID: "merchant:1", Overdraft: ledger.Overdraft{Kind: ledger.BoundedOverdraft, Limit: lgPts(60)}})
		require.NoError(t, err)
		_, err = lgMove(ctx, l, tenantA, "f", "merchant:1", "shop", lgPts(10))
		require.NoError(t, err)
		assert.Equal(t, int64(-60), lgPosted(t, l, tenantA, "merchant:1"))
		assert.Equal(t, int64(70), lgPosted(t, l, tenantA, "shop"))
	})

	t.Run("batch is all or nothing", func(t *testing.T) {
		s := h.Open(t)
		l := newTestLedger(t, s, storage.NewFakeClock(lgT0))
		req := func(key, from, to string, n int64) ledger.TransferRequest {
			return ledger.TransferRequest{Key: key, Postings: []ledger.Posting{{Source: from, Destination: to, Amount: lgPts(n)}}}
		}
		txs, err := l.Commit(ctx, tenantA, []ledger.TransferRequest{req("a", ledger.World, "m:1", 5), req("b", "m:1", "m:2", 3), req("a", ledger.World, "m:1", 5)})
		require.NoError(t, err)
		assert.Equal(t, txs[0].ID, txs[2].ID)
		_, err = l.Commit(ctx, tenantA, []ledger.TransferRequest{req("c", ledger.World, "m:1", 5), req("d", "m:2", "m:3", 4)})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		assert.Equal(t, int64(2), lgPosted(t, l, tenantA, "m:1"))
		assert.Equal(t, int64(3), lgPosted(t, l, tenantA, "m:2"))
		_, err = l.TransactionByKey(ctx, tenantA, "c")
		require.ErrorIs(t, err, ledger.ErrTransactionNotFound)
		big := make([]ledger.TransferRequest, 250)
		for i := range big {
			big[i] = req(fmt.Sprintf("big-%d", i), ledger.World, fmt.Sprintf("m:%d", i%7), 1)
		}
		big = append(big, req("b", "m:1", "m:2", 3)) // a replay inside
		txs, err = l.Commit(ctx, tenantA, big)
		require.NoError(t, err)
		assert.Equal(t, int64(-255), lgPosted(t, l, tenantA, ledger.World))
		assert.NotEmpty(t, txs[250].ID)
		// A batch is judged in order, one transfer after another: a debit
		// funded only by a later transfer of the batch is refused even
		// though the batch's net would do.
		_, err = l.Commit(ctx, tenantA, []ledger.TransferRequest{req("o1", "n:1", "n:2", 4), req("o2", ledger.World, "n:1", 4)})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		assert.Equal(t, int64(0), lgPosted(t, l, tenantA, "n:2"))
		_, err = l.Commit(ctx, tenantA, []ledger.TransferRequest{req("o3", ledger.World, "n:1", 4), req("o4", "n:1", "n:2", 4),
			req("o5", ledger.World, "n:1", 1), req("o6", "n:1", "n:2", 2)})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		_, err = l.Commit(ctx, tenantA, []ledger.TransferRequest{req("o3", ledger.World, "n:1", 4), req("o4", "n:1", "n:2", 4),
			req("o5", ledger.World, "n:1", 2), req("o6", "n:1", "n:2", 2)})
		require.NoError(t, err)
		assert.Equal(t, int64(0), lgPosted(t, l, tenantA, "n:1"))
		assert.Equal(t, int64(6), lgPosted(t, l, tenantA, "n:2"))
	})

	// The listing of open holds by destination, which settlement's
	// reconciliation reads.
	t.Run("open holds are listed by destination", func(t *testing.T) {
		s := h.Open(t)
		l := newTestLedger(t, s, storage.NewFakeClock(lgT0))
		ids := map[string]string{}
		for _, tn := range []storage.TenantID{tenantA, tenantB} {
			_, err := lgMove(ctx, l, tn, "load", ledger.World, "card:g", lgPts(50))
			require.NoError(t, err)
			for _, k := range []string{"h1", "h2", "h3", "other", "voided"} {
				dest := "clearing"
				if k == "other" {
					dest = "escrow:x"
				}
				hd, err := l.Hold(ctx, tn, ledger.HoldRequest{Key: k, Account: "card:g", Destination: dest, Amount: lgPts(1)})
				require.NoError(t, err)
				if tn == tenantA {
					ids[k] = hd.ID
				}
			}
		}
		_, err := l.Void(ctx, tenantA, ids["voided"])
		require.NoError(t, err)
		want := []string{ids["h1"], ids["h2"], ids["h3"]}
		slices.Sort(want)
		open := func(tenant storage.TenantID, dest, after string, limit int) []string {
			t.Helper()
			holds, err := l.OpenHolds(ctx, tenant, dest, after, limit)
			require.NoError(t, err)
			var out []string
			for _, hd := range holds {
				assert.Equal(t, ledger.HoldOpen, hd.Status)
				assert.Equal(t, dest, hd.Destination)
				out = append(out, hd.ID)
			}
			return out
		}
		assert.Equal(t, want, open(tenantA, "clearing", "", 10), "open, into the destination, of the tenant, by ID")
		assert.Equal(t, want[1:2], open(tenantA, "clearing", want[0], 1))
		assert.Equal(t, []string{ids["other"]}, open(tenantA, "escrow:x", "", 10))
		assert.Empty(t, open("nobody", "clearing", "", 10))
		_, err = l.OpenHolds(ctx, tenantA, "clearing", "", 0)
		assert.ErrorIs(t, err, ledger.ErrInvalidRequest)
	})

	t.Run("holds", func(t *testing.T) {
		s := h.Open(t)
		clock := storage.NewFakeClock(lgT0)
		l := newTestLedger(t, s, clock)
		_, err := lgMove(ctx, l, tenantA, "load", ledger.World, "card:1", lgPts(100))
		require.NoError(t, err)
		_, err = l.Hold(ctx, tenantA, ledger.HoldRequest{Key: "h0", Account: "card:404", Destination: "shop", Amount: lgPts(1)})
		require.ErrorIs(t, err, ledger.ErrUnknownAccount)
		hd, err := l.Hold(ctx, tenantA, ledger.HoldRequest{Key: "h1", Account: "card:1", Destination: "shop", Amount: lgPts(60), ExpiresAt: lgT0.Add(time.Hour)})
		require.NoError(t, err)
		again, err := l.Hold(ctx, tenantA, ledger.HoldRequest{Key: "h1", Account: "card:1", Destination: "shop", Amount: lgPts(60), ExpiresAt: lgT0.Add(time.Hour)})
		require.NoError(t, err)
		assert.Equal(t, hd.ID, again.ID)
		_, err = l.Hold(ctx, tenantA, ledger.HoldRequest{Key: "h2", Account: "card:1", Destination: "shop", Amount: lgPts(41)})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
		assert.Equal(t, int64(40), lgAvailable(t, l, tenantA, "card:1"))

		_, err = l.Capture(ctx, tenantA, hd.ID, ledger.CaptureRequest{Key: "c1", Amount: lgPts(20)})
		require.NoError(t, err)
		_, err = l.Capture(ctx, tenantA, hd.ID, ledger.CaptureRequest{Key: "c2", Amount: lgPts(41)})
		require.ErrorIs(t, err, ledger.ErrOverCapture)
		_, err = l.Capture(ctx, tenantA, hd.ID, ledger.CaptureRequest{Key: "c2", Amount: lgPts(30)})
		require.NoError(t, err)
		assert.Equal(t, int64(50), lgPosted(t, l, tenantA, "card:1"))
		assert.Equal(t, int64(40), lgAvailable(t, l, tenantA, "card:1"))
		clock.Advance(time.Hour)
		_, err = l.Capture(ctx, tenantA, hd.ID, ledger.CaptureRequest{Key: "c3", Amount: lgPts(1)})
		require.ErrorIs(t, err, ledger.ErrHoldExpired)
		res, err := l.SweepExpired(ctx, tenantA, clock.Now(), 10)
		require.NoError(t, err)
		assert.Equal(t, 1, res.HoldsReleased)
		assert.Equal(t, int64(50), lgAvailable(t, l, tenantA, "card:1"))
		got, err := l.HoldByID(ctx, tenantA, hd.ID)
		require.NoError(t, err)
		assert.Equal(t, ledger.HoldExpired, got.Status)
		assert.True(t, got.Captured.Equal(lgPts(50)))
		_, err = l.Void(ctx, tenantA, hd.ID)
		require.ErrorIs(t, err, ledger.ErrHoldClosed)

		h3, err := l.Hold(ctx, tenantA, ledger.HoldRequest{Key: "h3", Account: "card:1", Destination: "shop", Amount: lgPts(10), Metadata: map[string]string{"coupon": "C-1"}})
		require.NoError(t, err)
		v, err := l.Void(ctx, tenantA, h3.ID)
		require.NoError(t, err)
		assert.Equal(t, ledger.HoldVoided, v.Status)
		assert.Equal(t, "C-1", v.Metadata["coupon"])
		h3.Metadata["coupon"], v.Metadata["coupon"] = "changed", "changed" // the caller's own copies
		got, err = l.HoldByID(ctx, tenantA, h3.ID)
		require.NoError(t, err)
		assert.Equal(t, "C-1", got.Metadata["coupon"])
		_, err = l.Void(ctx, tenantA, h3.ID)
		require.NoError(t, err)
		_, err = l.Capture(ctx, tenantA, h3.ID, ledger.CaptureRequest{Key: "c4"})
		require.ErrorIs(t, err, ledger.ErrHoldClosed)
		_, err = l.HoldByID(ctx, tenantB, h3.ID)
		require.ErrorIs(t, err, ledger.ErrHoldNotFound)
		assert.Equal(t, int64(50), lgAvailable(t, l, tenantA, "card:1"))
	})

	t.Run("reversals", func(t *testing.T) {
		s := h.Open(t)
		l := newTestLedger(t, s, storage.NewFakeClock(lgT0))
		tx, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: "earn", Postings: []ledger.Posting{
			{Source: ledger.World, Destination: "member:1", Amount: lgPts(30)},
			{Source: ledger.World, Destination: "member:2", Amount: lgPts(20)},
		}})
		require.NoError(t, err)
		_, err = l.Reverse(ctx, tenantA, tx.ID, ledger.ReverseRequest{Key: "r1", Amounts: []money.Amount{lgPts(10), {}}})
		require.NoError(t, err)
		_, err = l.Reverse(ctx, tenantA, tx.ID, ledger.ReverseRequest{Key: "r2", Amounts: []money.Amount{lgPts(21), {}}})
		require.ErrorIs(t, err, ledger.ErrOverReversal)
		_, err = lgMove(ctx, l, tenantA, "spend", "member:2", "shop", lgPts(15))
		require.NoError(t, err)
		_, err = l.Reverse(ctx, tenantA, tx.ID, ledger.ReverseRequest{Key: "r3"})
		require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "member:2 spent what the reversal would take")
		rv, err := l.Reverse(ctx, tenantA, tx.ID, ledger.ReverseRequest{Key: "r4", Amounts: []money.Amount{lgPts(20), lgPts(5)}})
		require.NoError(t, err)
		assert.Equal(t, tx.ID, rv.Reverses)
		orig, err := l.TransactionByID(ctx, tenantA, tx.ID)
		require.NoError(t, err)
		assert.True(t, orig.Postings[0].Amount.Equal(lgPts(30)), "the original never changes")
		require.Len(t, orig.Reversed, 2)
		assert.True(t, orig.Reversed[0].Equal(lgPts(30)))
		assert.True(t, orig.Reversed[1].Equal(lgPts(5)))
		assert.Equal(t, int64(0), lgPosted(t, l, tenantA, "member:1"))
		assert.Equal(t, int64(0), lgPosted(t, l, tenantA, "member:2"))
	})

	t.Run("expiring lots", func(t *testing.T) {
		s := h.Open(t)
		clock := storage.NewFakeClock(lgT0)
		l := newTestLedger(t, s, clock)
		day := 24 * time.Hour
		for i, exp := range []time.Time{lgT0.Add(20 * day), lgT0.Add(10 * day), {}} {
			_, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: fmt.Sprintf("earn-%d", i), Postings: []ledger.Posting{
				{Source: ledger.World, Destination: "member:1", Amount: lgPts(int64(100 * (i + 1))), ExpiresAt: exp}}})
			require.NoError(t, err)
		}
		by := func(d time.Time) int64 {
			a, err := l.ExpiringBy(ctx, tenantA, "member:1", ledgertest.Points, d)
			require.NoError(t, err)
			m, _ := a.Minor()
			return m
		}
		assert.Equal(t, int64(200), by(lgT0.Add(10*day)))
		assert.Equal(t, int64(300), by(lgT0.Add(20*day)))
		_, err := lgMove(ctx, l, tenantA, "spend", "member:1", "shop", lgPts(250))
		require.NoError(t, err)
		assert.Equal(t, int64(0), by(lgT0.Add(10*day)), "the earliest lot went first")
		assert.Equal(t, int64(50), by(lgT0.Add(20*day)))
		clock.Set(lgT0.Add(25 * day))
		res, err := l.SweepExpired(ctx, tenantA, clock.Now(), 100)
		require.NoError(t, err)
		require.Len(t, res.Transactions, 1)
		assert.Equal(t, int64(300), lgPosted(t, l, tenantA, "member:1"))
		assert.Equal(t, int64(50), lgPosted(t, l, tenantA, "platform:expired"))
		res, err = l.SweepExpired(ctx, tenantA, clock.Now(), 100)
		require.NoError(t, err)
		assert.Empty(t, res.Transactions)
		assert.Equal(t, int64(0), by(lgT0.Add(100*day)))
	})

	t.Run("history and balance at", func(t *testing.T) {
		s := h.Open(t)
		clock := storage.NewFakeClock(lgT0)
		l := newTestLedger(t, s, clock)
		for i := range 5 {
			_, err := lgMove(ctx, l, tenantA, fmt.Sprintf("h%d", i), ledger.World, "member:1", lgPts(int64(i+1)))
			require.NoError(t, err)
			_, err = l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: fmt.Sprintf("u%d", i), Postings: []ledger.Posting{
				{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(1, money.USD)}}})
			require.NoError(t, err)
			clock.Advance(time.Hour)
		}
		at, err := l.BalanceAt(ctx, tenantA, "member:1", ledgertest.Points, lgT0.Add(150*time.Minute))
		require.NoError(t, err)
		assert.True(t, at.Equal(lgPts(6)), at.String())
		at, err = l.BalanceAt(ctx, tenantA, "member:1", ledgertest.Points, lgT0.Add(-time.Minute))
		require.NoError(t, err)
		assert.True(t, at.IsZero())

		var seen []string
		var before int64
		for {
			p, err := l.History(ctx, tenantA, "member:1", ledger.HistoryQuery{Asset: ledgertest.Points, Before: before, Limit: 2})
			require.NoError(t, err)
			for _, e := range p.Entries {
				seen = append(seen, e.Amount.StringFixed()+"="+e.Balance.StringFixed())
				assert.Equal(t, ledger.World, e.Other)
			}
			if p.Next == 0 {
				break
			}
			before = p.Next
		}
		assert.Equal(t, []string{"5=15", "4=10", "3=6", "2=3", "1=1"}, seen)
		all, err := l.History(ctx, tenantA, "member:1", ledger.HistoryQuery{Limit: 100})
		require.NoError(t, err)
		assert.Len(t, all.Entries, 10)
		w, err := l.History(ctx, tenantA, ledger.World, ledger.HistoryQuery{Asset: ledgertest.Points, Limit: 1})
		require.NoError(t, err)
		require.Len(t, w.Entries, 1)
		assert.Equal(t, "-5", w.Entries[0].Amount.StringFixed())
		assert.Equal(t, "-15", w.Entries[0].Balance.StringFixed())
	})

	t.Run("rolls back with the host transaction", func(t *testing.T) {
		s := h.Open(t)
		l := newTestLedger(t, s, storage.NewFakeClock(lgT0))
		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if _, err := lgMove(ctx, l, tenantA, "in", ledger.World, "member:1", lgPts(7)); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		assert.Equal(t, int64(0), lgPosted(t, l, tenantA, "member:1"))
		_, err = l.TransactionByKey(ctx, tenantA, "in")
		require.ErrorIs(t, err, ledger.ErrTransactionNotFound)
		if h.BeginHostTx != nil {
			htx := h.BeginHostTx(t, s)
			_, err := lgMove(htx.Ctx, l, tenantA, "host", ledger.World, "member:1", lgPts(3))
			require.NoError(t, err)
			require.NoError(t, htx.Commit())
			assert.Equal(t, int64(3), lgPosted(t, l, tenantA, "member:1"))
		}
	})

	t.Run("model", func(t *testing.T) {
		s := h.Open(t)
		ls := ledgerStore(t, s)
		var n atomic.Int64
		ledgertest.Check(t, ledgertest.Options{Light: true, MaxSteps: 12, Open: func(*rapid.T) ledgertest.Env {
			return ledgertest.Env{Store: ls, Tx: s, Tenant: storage.TenantID(fmt.Sprintf("model-%d", n.Add(1)))}
		}})
	})

	t.Run("concurrent transfers on hot accounts", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		l1 := newTestLedger(t, s1, storage.SystemClock{})
		l2 := newTestLedger(t, s2, storage.SystemClock{})
		hot := []string{"hot:0", "hot:1", "hot:2", "hot:3"}
		const start = 200
		for i, a := range hot {
			_, err := lgMove(ctx, l1, tenantA, fmt.Sprintf("seed-%d", i), ledger.World, a, lgPts(start))
			require.NoError(t, err)
		}
		workers := max(h.writers(), 64)
		const perWorker = 12
		var mu sync.Mutex
		moved := map[string]int64{}
		var ok, refused, busy atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := l1
				if w%2 == 1 {
					l = l2
				}
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for i := range perWorker {
					from := hot[rng.IntN(len(hot))]
					to := hot[(slicesIndex(hot, from)+1+rng.IntN(len(hot)-1))%len(hot)]
					n := int64(1 + rng.IntN(60))
					_, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: fmt.Sprintf("w%d-%d", w, i), Postings: []ledger.Posting{
						{Source: from, Destination: to, Amount: lgPts(n)},
						{Source: to, Destination: "sink", Amount: lgPts(1)},
					}})
					switch {
					case err == nil:
						ok.Add(1)
						mu.Lock()
						moved[from] -= n
						moved[to] += n - 1
						moved["sink"]++
						mu.Unlock()
					case errors.Is(err, ledger.ErrInsufficientFunds):
						refused.Add(1)
					case errors.Is(err, storage.ErrLockTimeout):
						// a single-writer database (SQLite) under heavy
						// load: the transfer wrote nothing, which the
						// totals below check
						busy.Add(1)
					default:
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		t.Logf("%d transfers committed, %d refused for funds, %d timed out waiting for a lock", ok.Load(), refused.Load(), busy.Load())
		require.Positive(t, ok.Load())
		var total int64
		for _, a := range append(slicesClone(hot), "sink") {
			b, err := l2.Balance(ctx, tenantA, a, ledgertest.Points)
			require.NoError(t, err)
			posted, _ := b.Posted.Minor()
			want := moved[a]
			if a != "sink" {
				want += start
			}
			assert.Equal(t, want, posted, "%s: no lost update", a)
			assert.GreaterOrEqual(t, posted, int64(0), "%s: no overdraft", a)
			total += posted
		}
		assert.Equal(t, int64(start*len(hot)), total, "totals conserved")
	})
}

func slicesIndex(s []string, v string) int {
	for i := range s {
		if s[i] == v {
			return i
		}
	}
	return -1
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
