package sqlstore_test

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/cputime"
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

// cpuMeter measures the CPU time a benchmark costs the PostgreSQL server
// (its live processes and the children its postmaster reaped) and this
// process (or, for pgbench, a child).
type cpuMeter struct {
	postmaster   int
	srv, process time.Duration
}

// startCPU starts measuring the CPU of the server db is connected to and
// of this process.
func startCPU(b *testing.B, db *sql.DB) *cpuMeter {
	var backend int
	require.NoError(b, db.QueryRow("SELECT pg_backend_pid()").Scan(&backend))
	st, ok := procStat(backend)
	if !ok {
		b.Skip("no /proc: CPU not measured")
	}
	m := &cpuMeter{postmaster: st.ppid}
	m.srv = m.server()
	m.process = cputime.Now().CPU
	return m
}

// report adds srv-us/op and cli-us/op for n operations; child is the CPU
// of a child process that did the client's work (pgbench), or 0 for this
// process.
func (m *cpuMeter) report(b *testing.B, n int, child time.Duration) {
	srv := m.server() - m.srv
	cli := child
	if cli == 0 {
		cli = cputime.Now().CPU - m.process
	}
	b.ReportMetric(float64(srv.Microseconds())/float64(n), "srv-us/op")
	b.ReportMetric(float64(cli.Microseconds())/float64(n), "cli-us/op")
}

// server sums the CPU of the postmaster, its live children and its reaped
// ones.
func (m *cpuMeter) server() time.Duration {
	st, _ := procStat(m.postmaster)
	total := st.cpu + st.children
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if c, ok := procStat(pid); ok && c.ppid == m.postmaster {
			total += c.cpu
		}
	}
	return total
}

type pstat struct {
	ppid          int
	cpu, children time.Duration
}

// procStat reads /proc/pid/stat: parent, own CPU, reaped children's CPU.
func procStat(pid int) (pstat, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return pstat{}, false
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return pstat{}, false
	}
	num := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return pstat{
		ppid:     int(num(1)),
		cpu:      time.Duration(num(11)+num(12)) * tick,
		children: time.Duration(num(13)+num(14)) * tick,
	}, true
}
