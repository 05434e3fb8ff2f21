package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/storage"
)

// The ledger's ID index keeps increasing IDs in an ordered list and the
// rest in a hash index; fingerprints in hex are kept as bytes; expiries
// and reversed amounts live beside the lines. Each must read back, stay
// unique and roll back.

func testRow(id, key string, lines ...ledger.LineRow) ledger.TxRow {
	return ledger.TxRow{ID: id, Key: key, Fingerprint: "fp-" + key, Kind: ledger.KindTransfer,
		At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Lines: lines}
}

func testLine(amount int64) ledger.LineRow {
	return ledger.LineRow{Source: "world", Destination: "member:1", Asset: "POINTS", Amount: amount}
}

func TestLedgerIDIndex(t *testing.T) {
	s := MustNew()
	ls := s.Ledger()
	ctx := context.Background()
	commitIn := func(ctx context.Context, id, key string) error {
		_, err := ls.CommitTx(ctx, "t", []ledger.TxRow{testRow(id, key, testLine(1))})
		return err
	}
	commit := func(id, key string) error { return commitIn(ctx, id, key) }
	for i, id := range []string{"m", "p", "c", "x", "a", "y"} { // c and a out of order
		require.NoError(t, commit(id, "k"+id), "row %d", i)
	}
	lt := s.tenantLedger("t", false)
	assert.Equal(t, 4, lt.ordered.len(), "m, p, x, y")
	assert.Len(t, lt.byID, 2, "c, a")
	for _, id := range []string{"m", "p", "c", "x", "a", "y"} {
		r, err := ls.TxByID(ctx, "t", id)
		require.NoError(t, err, id)
		assert.Equal(t, "k"+id, r.Key)
	}
	for _, id := range []string{"b", "n", "z", ""} {
		_, err := ls.TxByID(ctx, "t", id)
		require.ErrorIs(t, err, ledger.ErrTransactionNotFound, id)
	}
	for _, id := range []string{"m", "y", "c", "a"} {
		require.ErrorIs(t, commit(id, "other-"+id), storage.ErrDuplicate, id)
	}

	// A rolled-back row leaves no trace in either index.
	boom := errors.New("boom")
	for _, id := range []string{"zz", "b"} {
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, commitIn(ctx, id, "rolled-"+id))
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = ls.TxByID(ctx, "t", id)
		require.ErrorIs(t, err, ledger.ErrTransactionNotFound, id)
		require.NoError(t, commit(id, "again-"+id), id)
	}
	assert.Equal(t, 5, lt.ordered.len())
	assert.Len(t, lt.byID, 3)
}

func TestLedgerCompactRows(t *testing.T) {
	s := MustNew()
	ls := s.Ledger()
	ctx := context.Background()
	expires := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lot := testLine(5)
	lot.ExpiresAt = expires
	hexFP := "00ff10ab"
	in := []ledger.TxRow{testRow("a", "ka", testLine(7), lot), testRow("b", "kb", testLine(3))}
	in[1].Fingerprint = hexFP
	in[0].Fingerprint = "00FF" // upper case: kept as it is
	_, err := ls.CommitTx(ctx, "t", in)
	require.NoError(t, err)

	got, err := ls.TxByID(ctx, "t", "a")
	require.NoError(t, err)
	assert.Equal(t, "00FF", got.Fingerprint)
	require.Len(t, got.Lines, 2)
	assert.True(t, got.Lines[0].ExpiresAt.IsZero())
	assert.True(t, expires.Equal(got.Lines[1].ExpiresAt))
	got, err = ls.TxByKey(ctx, "t", "kb")
	require.NoError(t, err)
	assert.Equal(t, hexFP, got.Fingerprint)

	// A reversal records what it took beside the lines; a failed one
	// takes its records back.
	rev := func(key string, taken ...ledger.Take) ledger.TxRow {
		r := testRow("r-"+key, key, ledger.LineRow{Source: "member:1", Destination: "world", Asset: "POINTS", Amount: 1})
		r.Kind, r.Reverses, r.Taken = ledger.KindReversal, "a", taken
		return r
	}
	_, err = ls.CommitTx(ctx, "t", []ledger.TxRow{rev("r1", ledger.Take{Index: 0, Amount: 1})})
	require.NoError(t, err)
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context) error {
		_, err := ls.CommitTx(ctx, "t", []ledger.TxRow{rev("r2", ledger.Take{Index: 0, Amount: 2}, ledger.Take{Index: 1, Amount: 1})})
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err = ls.TxByID(ctx, "t", "a")
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 0}, []int64{got.Lines[0].Reversed, got.Lines[1].Reversed})
	assert.True(t, expires.Equal(got.Lines[1].ExpiresAt), "the lot's expiry survives the rollback")
	lt := s.tenantLedger("t", false)
	assert.Equal(t, 2, lt.more.len(), "the lot's expiry and the first reversal")
}
