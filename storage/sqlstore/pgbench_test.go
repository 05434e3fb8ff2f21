package sqlstore_test

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/pgtest"
)

// pgbenchTPS reads pgbench's rate without connection set-up.
var pgbenchTPS = regexp.MustCompile(`tps = ([0-9.]+) \(without initial`)

// BenchmarkPgbenchHotRow is the yardstick of the hot-row benchmarks
// (BenchmarkLedgerPostgres/hot, BenchmarkClaimHotTemplatePostgres): the
// raw rate of pgbench's one-row conditional UPDATE (one statement per
// transaction, like a stock decrement or a balance move alone) with
// benchClients clients on the same cluster, for pgbenchSeconds whatever
// b.N is. It reports pgbench's own rate (updates/s) and the CPU one
// update costs the server and pgbench. The issues ask the ledger's and
// the claims' hot rates to be at least half of updates/s, measured in
// the same run: run the three one after the other, for about as long:
//
//	go test ./storage/sqlstore/ -run XXX -bench 'PgbenchHotRow|LedgerPostgres/hot|ClaimHot' -benchtime 50000x
func BenchmarkPgbenchHotRow(b *testing.B) {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
		if len(bins) == 0 {
			b.Skip("pgbench not found")
		}
		bin = bins[len(bins)-1]
	}
	dsn := pgtest.DSN(b)
	db, err := sql.Open("pgx", dsn)
	require.NoError(b, err)
	defer db.Close()
	_, err = db.Exec("CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL); INSERT INTO hot VALUES (1, 1000000000000)")
	require.NoError(b, err)
	script := filepath.Join(b.TempDir(), "hot.sql")
	require.NoError(b, os.WriteFile(script, []byte("UPDATE hot SET v = v - 1 WHERE id = 1 AND v > 0;\n"), 0o600))
	cpu := startCPU(b, db)
	b.ResetTimer()
	cmd := exec.Command(bin, "-n", "-c", strconv.Itoa(benchClients), "-j", "2", "-T", strconv.Itoa(pgbenchSeconds), "-f", script, dsn)
	out, err := cmd.CombinedOutput()
	b.StopTimer()
	require.NoError(b, err, "%s", out)
	m := pgbenchTPS.FindSubmatch(out)
	require.NotNil(b, m, "%s", out)
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(b, err)
	var updates int
	err = db.QueryRow("SELECT 1000000000000 - v FROM hot").Scan(&updates)
	require.NoError(b, err)
	cpu.report(b, updates, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	b.ReportMetric(tps, "updates/s")
}

// pgbenchSeconds is how long BenchmarkPgbenchHotRow runs pgbench: about
// as long as the hot-row benchmarks it is compared with run at 50000x.
const pgbenchSeconds = 5
