package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/pgtest"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// entrySeqBits mirrors sqlstore's layout of a PostgreSQL entry's seq:
// Unix milliseconds above the low 21 bits.
const entrySeqBits = 21

// TestEntrySeqCarriesTime: on PostgreSQL every way an entry is written
// (the batched direct statement, the one-statement transfer inside a
// caller's transaction, the portable statements of a reversal) numbers
// it with its time, so the primary key orders entries by time, and
// BalanceAt finds its answer walking that key.
func TestEntrySeqCarriesTime(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	clock := storage.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{Clock: clock})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	l, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, Assets: ledgertest.Assets(), Clock: clock})
	require.NoError(t, err)

	move := func(key, from, to string, n int64) *ledger.Transaction {
		tx, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: key, Postings: []ledger.Posting{
			{Source: from, Destination: to, Amount: benchPts(n)}}})
		require.NoError(t, err)
		return tx
	}
	move("a", ledger.World, "m", 10) // direct
	clock.Advance(1500 * time.Microsecond)
	require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { // in a transaction
		_, err := l.Transfer(ctx, tenantA, ledger.TransferRequest{Key: "b", Postings: []ledger.Posting{
			{Source: ledger.World, Destination: "m", Amount: benchPts(5)}}})
		return err
	}))
	mid := clock.Now()
	clock.Advance(time.Hour)
	c := move("c", "m", "shop", 12)
	clock.Advance(time.Minute)
	_, err = l.Reverse(ctx, tenantA, c.ID, ledger.ReverseRequest{Key: "r"}) // portable statements
	require.NoError(t, err)

	rows, err := s.DB().QueryContext(ctx, "SELECT seq, at FROM rk_ledger_entries ORDER BY seq")
	require.NoError(t, err)
	defer rows.Close()
	var n int
	var last time.Time
	for rows.Next() {
		var seq int64
		var at time.Time
		require.NoError(t, rows.Scan(&seq, &at))
		assert.Equal(t, at.UnixMilli(), seq>>entrySeqBits, "seq %d at %s", seq, at)
		assert.False(t, at.Before(last), "seq order is time order")
		last = at
		n++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 8, n)

	for _, tt := range []struct {
		at   time.Time
		want int64
	}{
		{mid.Add(-time.Millisecond), 10},
		{mid, 15},
		{mid.Add(time.Hour), 3},
		{clock.Now(), 15},
	} {
		got, err := l.BalanceAt(ctx, tenantA, "m", ledgertest.Points, tt.at)
		require.NoError(t, err)
		assert.Equal(t, tt.want, minor(t, got), "at %s", tt.at)
	}

	plan := explain(t, s.DB(), "SELECT balance FROM rk_ledger_entries WHERE tenant = $1 AND account = $2 AND asset = $3"+
		" AND at <= $4 AND seq < ((floor(extract(epoch from $4::timestamptz) * 1000)::bigint + 1) << 21) ORDER BY seq DESC LIMIT 1",
		string(tenantA), "m", "POINTS", clock.Now())
	assert.Contains(t, plan, "Index Scan Backward using rk_ledger_entries_pkey", plan)
}

// explain returns PostgreSQL's plan of query, one line per node.
func explain(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	return plan.String()
}

// TestEntrySeqMigration: entries written before migration 0700 (numbered
// by the bare sequence) are renumbered with their time, above every old
// number, and keep their order.
func TestEntrySeqMigration(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ms, err := sqlstore.Migrations(sqlstore.Postgres, sqlstore.DefaultTablePrefix)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "CREATE TABLE rk_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
	require.NoError(t, err)
	for _, m := range ms {
		if m.Version >= 700 {
			break
		}
		_, err := db.ExecContext(ctx, m.SQL)
		require.NoError(t, err, m.Name)
		_, err = db.ExecContext(ctx, "INSERT INTO rk_schema_migrations VALUES ($1, $2, now())", m.Version, m.Name)
		require.NoError(t, err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		_, err := db.ExecContext(ctx, "INSERT INTO rk_ledger_entries (tenant, account, asset, tx_id, kind, line_no, other, amount, balance, at)"+
			" VALUES ('shop', 'm', 'POINTS', $1, 1, 0, 'world', 1, $2, $3)", fmt.Sprint("t", i), i+1, t0.Add(time.Duration(i)*time.Second))
		require.NoError(t, err)
	}
	s, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	rows, err := s.Ledger().History(ctx, "shop", "m", "", 0, 10)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	for i, r := range rows {
		at := t0.Add(time.Duration(2-i) * time.Second)
		assert.Equal(t, at.UnixMilli(), r.Seq>>entrySeqBits)
		assert.Equal(t, int64(3-i), r.Balance)
	}
	v, err := s.Ledger().BalanceAt(ctx, "shop", "m", "POINTS", t0.Add(1500*time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, int64(2), v)
}
