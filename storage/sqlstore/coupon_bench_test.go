package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/internal/pgtest"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func backendNamed(name string) backend {
	for _, b := range backends {
		if b.name == name {
			return b
		}
	}
	panic("no backend " + name)
}

func benchCouponService(b *testing.B, backendName string, conns int) *coupon.Service {
	be := backendNamed(backendName)
	s := be.open(b, be.place(b), sqlstore.Options{MaxConns: conns})
	svc, err := coupon.New(coupon.Config{Store: s.Coupons(), Tx: s})
	require.NoError(b, err)
	_, err = svc.CreateTemplate(context.Background(), coupon.Template{
		Tenant: tenantA, ID: "hot",
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: money.MustParse("5", money.USD)},
		Validity: coupon.Validity{Days: 30},
		Limits:   coupon.Limits{Stock: 1 << 40, PerUser: 1},
	})
	require.NoError(b, err)
	return svc
}

// BenchmarkClaimHotTemplatePostgres: claims of distinct users on one
// template (one hot stock row) from 16 goroutines over 16 connections.
func BenchmarkClaimHotTemplatePostgres(b *testing.B) {
	svc := benchCouponService(b, "postgres", 16)
	var n atomic.Int64
	ctx := context.Background()
	b.SetParallelism(16) // 16 * GOMAXPROCS goroutines; the pool caps them at 16 connections
	b.ReportAllocs()
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u := fmt.Sprintf("u%d", n.Add(1))
			if _, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "hot", UserID: u}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "claims/s")
}

// BenchmarkGenerateCodesPostgres loads 100,000 codes into PostgreSQL
// (chunks of 5,000 per transaction, multi-row INSERTs of 500).
func BenchmarkGenerateCodesPostgres(b *testing.B) {
	svc := benchCouponService(b, "postgres", 4)
	ctx := context.Background()
	const count = 100_000
	b.ReportAllocs()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		codes, err := svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: tenantA, TemplateID: "hot", Count: count, ChunkSize: 5000})
		require.NoError(b, err)
		require.Len(b, codes, count)
	}
	b.ReportMetric(float64(count*b.N)/time.Since(start).Seconds(), "codes/s")
}

// BenchmarkPgbenchHotRowUpdate is the yardstick for
// BenchmarkClaimHotTemplatePostgres: pgbench's raw single-row conditional
// UPDATE (the stock decrement alone, one statement per transaction) with
// 16 clients on the same throwaway cluster, b.N transactions in all. The
// issue asks claims/s >= half of this rate.
func BenchmarkPgbenchHotRowUpdate(b *testing.B) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		if len(bins) == 0 {
			b.Skip("pgbench not found")
		}
		pgbench = bins[len(bins)-1]
	}
	dsn := pgtest.DSN(b)
	db, err := sql.Open("pgx", dsn)
	require.NoError(b, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE t (id INT PRIMARY KEY, v BIGINT NOT NULL); INSERT INTO t VALUES (1, 1000000000000)")
	require.NoError(b, err)
	script := filepath.Join(b.TempDir(), "hot.sql")
	require.NoError(b, os.WriteFile(script, []byte("UPDATE t SET v = v - 1 WHERE id = 1 AND v > 0;\n"), 0o644))
	const clients = 16
	perClient := max(1, b.N/clients)
	b.ResetTimer()
	start := time.Now()
	out, err := exec.Command(pgbench, "-n", "-c", strconv.Itoa(clients), "-j", "2", "-t", strconv.Itoa(perClient), "-f", script, dsn).CombinedOutput()
	elapsed := time.Since(start)
	b.StopTimer()
	require.NoError(b, err, "%s", out)
	b.ReportMetric(float64(perClient*clients)/elapsed.Seconds(), "updates/s")
	if m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial`).FindSubmatch(out); m != nil {
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		b.ReportMetric(tps, "pgbench-tps")
	}
}
