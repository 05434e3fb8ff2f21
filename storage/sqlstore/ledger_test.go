package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/pgtest"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// The PostgreSQL ledger benchmarks run 16 clients over a pool of 16
// connections; compare the hot one with BenchmarkPgbenchHotRow, pgbench's
// raw one-row UPDATE rate with 16 clients on the same cluster (see there).
const benchClients = 16

// benchGroup is the Options.GroupCommit the ledger benchmarks run with:
// REWARDKIT_BENCH_GROUP_COMMIT, or the default (0). Compare -1 (off), 1
// and the default in one run to see what grouping does.
var benchGroup, _ = strconv.Atoi(os.Getenv("REWARDKIT_BENCH_GROUP_COMMIT"))

var benchDelay, _ = time.ParseDuration(os.Getenv("REWARDKIT_BENCH_GROUP_DELAY"))

func benchLedger(b *testing.B) (*ledger.Ledger, *sqlstore.Store) {
	b.Helper()
	s, err := sqlstore.OpenPostgres(context.Background(), pgtest.DSN(b), sqlstore.Options{MaxConns: benchClients, GroupCommit: benchGroup, GroupCommitDelay: benchDelay})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	l, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, Assets: ledgertest.Assets()})
	require.NoError(b, err)
	return l, s
}

func benchPts(n int64) money.Amount { return money.FromMinor(n, ledgertest.Points) }

const benchTenant storage.TenantID = "bench"

// parallel runs f from benchClients goroutines, numbered, until b.N calls
// are done, and reports transfers per second of wall time and the CPU a
// transfer costs the server of s and this process.
func parallel(b *testing.B, s *sqlstore.Store, perCall int, f func(worker int, i int64) error) {
	var next, worker atomic.Int64
	b.SetParallelism((benchClients + 1) / 2) // GOMAXPROCS is 2 here
	cpu := startCPU(b, s.DB())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(worker.Add(1) - 1)
		for pb.Next() {
			if err := f(w, next.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu.report(b, b.N*perCall, 0)
	b.ReportMetric(float64(b.N*perCall)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkLedgerPostgres measures transfers through the whole ledger
// (validation, key, floors, entries, outbox) on PostgreSQL.
func BenchmarkLedgerPostgres(b *testing.B) {
	ctx := context.Background()
	b.Run("distinct", func(b *testing.B) {
		l, s := benchLedger(b)
		for w := range benchClients {
			_, err := l.Transfer(ctx, benchTenant, ledger.TransferRequest{Key: fmt.Sprintf("fund-%d", w), Postings: []ledger.Posting{
				{Source: ledger.World, Destination: fmt.Sprintf("src:%d", w), Amount: benchPts(1 << 40)}}})
			require.NoError(b, err)
		}
		// each client debits its own account and credits its own ones
		parallel(b, s, 1, func(w int, i int64) error {
			_, err := l.Transfer(ctx, benchTenant, ledger.TransferRequest{Key: "d" + strconv.FormatInt(i, 10), Postings: []ledger.Posting{
				{Source: fmt.Sprintf("src:%d", w), Destination: fmt.Sprintf("dst:%d:%d", w, i%100), Amount: benchPts(1)}}})
			return err
		})
	})
	b.Run("batch100", func(b *testing.B) {
		l, s := benchLedger(b)
		for w := range benchClients {
			_, err := l.Transfer(ctx, benchTenant, ledger.TransferRequest{Key: fmt.Sprintf("fund-%d", w), Postings: []ledger.Posting{
				{Source: ledger.World, Destination: fmt.Sprintf("src:%d", w), Amount: benchPts(1 << 40)}}})
			require.NoError(b, err)
		}
		parallel(b, s, 100, func(w int, i int64) error {
			reqs := make([]ledger.TransferRequest, 100)
			for j := range reqs {
				reqs[j] = ledger.TransferRequest{Key: fmt.Sprintf("b%d-%d", i, j), Postings: []ledger.Posting{
					{Source: fmt.Sprintf("src:%d", w), Destination: fmt.Sprintf("m:%d:%d", w, j), Amount: benchPts(1)}}}
			}
			_, err := l.Commit(ctx, benchTenant, reqs)
			return err
		})
	})
	b.Run("hot", func(b *testing.B) {
		transfer, s := hotTransfers(b)
		parallel(b, s, 1, func(_ int, i int64) error { return transfer(i) })
	})
}

// hotTransfers opens a ledger whose account "hot" is funded and returns
// the i-th transfer from it (of 1, keyed by i, to one of 1000 accounts):
// every transfer debits one balance row.
func hotTransfers(b *testing.B) (func(i int64) error, *sqlstore.Store) {
	ctx := context.Background()
	l, s := benchLedger(b)
	_, err := l.Transfer(ctx, benchTenant, ledger.TransferRequest{Key: "fund", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "hot", Amount: benchPts(1 << 50)}}})
	require.NoError(b, err)
	return func(i int64) error {
		_, err := l.Transfer(ctx, benchTenant, ledger.TransferRequest{Key: "h" + strconv.FormatInt(i, 10), Postings: []ledger.Posting{
			{Source: "hot", Destination: fmt.Sprintf("m:%d", i%1000), Amount: benchPts(1)}}})
		return err
	}, s
}
