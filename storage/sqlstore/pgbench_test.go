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
	"sync"
	"sync/atomic"
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
// the same run: BenchmarkHotRowRatios measures the three side by side,
// warm; for their CPU per operation, run the three one after the other,
// for about as long (each then includes its first, cold second):
//
//	go test ./storage/sqlstore/ -run XXX -bench 'PgbenchHotRow|LedgerPostgres/hot|ClaimHot' -benchtime 50000x
func BenchmarkPgbenchHotRow(b *testing.B) {
	pg := newPgbench(b)
	cpu := startCPU(b, pg.db)
	b.ResetTimer()
	tps, child := pg.run(b, pgbenchSeconds)
	b.StopTimer()
	cpu.report(b, pg.updates(b), child)
	b.ReportMetric(tps, "updates/s")
}

// pgbench runs pgbench's one-row conditional UPDATE on a table of its
// own in a new database.
type pgbench struct {
	bin, dsn, script string
	db               *sql.DB
}

func newPgbench(b *testing.B) *pgbench {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
		if len(bins) == 0 {
			b.Skip("pgbench not found")
		}
		bin = bins[len(bins)-1]
	}
	pg := &pgbench{bin: bin, dsn: pgtest.DSN(b)}
	pg.db, err = sql.Open("pgx", pg.dsn)
	require.NoError(b, err)
	b.Cleanup(func() { _ = pg.db.Close() })
	_, err = pg.db.Exec("CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL); INSERT INTO hot VALUES (1, 1000000000000)")
	require.NoError(b, err)
	pg.script = filepath.Join(b.TempDir(), "hot.sql")
	require.NoError(b, os.WriteFile(pg.script, []byte("UPDATE hot SET v = v - 1 WHERE id = 1 AND v > 0;\n"), 0o600))
	return pg
}

// run runs pgbench with benchClients clients for seconds and returns its
// rate (updates/s, without connection set-up) and its own CPU time.
func (pg *pgbench) run(b *testing.B, seconds int) (float64, time.Duration) {
	out, cpu := pg.exec(b, seconds)
	m := pgbenchTPS.FindSubmatch(out)
	require.NotNil(b, m, "%s", out)
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(b, err)
	return tps, cpu
}

// steady runs pgbench for 1+seconds and returns its rate after the first
// second: each pgbench run starts new connections, whose first second runs
// at about two thirds of the rate of the next ones (their backends warm
// their caches), while the clients it is compared with are warm.
func (pg *pgbench) steady(b *testing.B, seconds int) float64 {
	out, _ := pg.exec(b, 1+seconds, "-P", "1")
	var sum float64
	n := 0
	for _, m := range pgbenchProgress.FindAllSubmatch(out, -1) {
		at, err := strconv.ParseFloat(string(m[1]), 64)
		require.NoError(b, err)
		tps, err := strconv.ParseFloat(string(m[2]), 64)
		require.NoError(b, err)
		if at >= 2 {
			sum += tps
			n++
		}
	}
	require.NotZero(b, n, "no progress after the first second: %s", out)
	return sum / float64(n)
}

// pgbenchProgress reads one line of pgbench's progress (-P): the second
// it ends at and the rate during it.
var pgbenchProgress = regexp.MustCompile(`progress: ([0-9.]+) s, ([0-9.]+) tps`)

// exec runs pgbench for seconds, with extra arguments, and returns its
// output and CPU time.
func (pg *pgbench) exec(b *testing.B, seconds int, extra ...string) ([]byte, time.Duration) {
	args := append([]string{"-n", "-c", strconv.Itoa(benchClients), "-j", "2", "-T", strconv.Itoa(seconds)}, extra...)
	cmd := exec.Command(pg.bin, append(args, "-f", pg.script, pg.dsn)...)
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "%s", out)
	return out, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// updates returns how many updates pgbench has made so far.
func (pg *pgbench) updates(b *testing.B) int {
	var n int
	require.NoError(b, pg.db.QueryRow("SELECT 1000000000000 - v FROM hot").Scan(&n))
	return n
}

// BenchmarkHotRowRatios measures what the issues ask of the hot-row
// paths, in one run: hot-template claims and hot-account transfers
// against pgbench's one-row UPDATE, each with 16 clients over 16
// connections, in ratioRounds rounds of ratioSeconds each (pgbench, then
// claims, then transfers), whatever b.N is. Rounds side by side, rather
// than one long window each, keep a slow minute of a shared machine from
// landing on one side only. Every side is measured warm: the claim and
// transfer clients keep their connections from round to round, and
// pgbench's first second, on new connections, is left out (see steady).
// It reports each rate over all its rounds and the ratios claim-ratio
// and hot-ratio (claims/s and transfers/s over updates/s).
func BenchmarkHotRowRatios(b *testing.B) {
	pg := newPgbench(b)
	svc, _ := benchCouponService(b, "postgres", benchClients, "hot")
	claim := claims(svc, []string{"hot"})
	transfer, _ := hotTransfers(b)
	var claimed, transferred atomic.Int64           // the calls made so far, for the next one's number
	var updateRate, claimRate, transferRate float64 // per second, summed over the rounds
	b.ResetTimer()
	for range ratioRounds {
		updateRate += pg.steady(b, ratioSeconds)
		claimRate += during(b, ratioSeconds*time.Second, &claimed, claim)
		transferRate += during(b, ratioSeconds*time.Second, &transferred, transfer)
	}
	b.StopTimer()
	b.ReportMetric(updateRate/ratioRounds, "updates/s")
	b.ReportMetric(claimRate/ratioRounds, "claims/s")
	b.ReportMetric(transferRate/ratioRounds, "transfers/s")
	b.ReportMetric(claimRate/updateRate, "claim-ratio")
	b.ReportMetric(transferRate/updateRate, "hot-ratio")
}

// The rounds of BenchmarkHotRowRatios: ratioRounds windows of
// ratioSeconds for each side.
const (
	ratioRounds  = 5
	ratioSeconds = 2
)

// during calls f from benchClients goroutines for d, each call with the
// next number of made, and returns the calls made per second of wall
// time.
func during(b *testing.B, d time.Duration, made *atomic.Int64, f func(i int64) error) float64 {
	first := made.Load()
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for range benchClients {
		wg.Go(func() {
			for time.Now().Before(end) {
				if err := f(made.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(made.Load()-first) / time.Since(start).Seconds()
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
