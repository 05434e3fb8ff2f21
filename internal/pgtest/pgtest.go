package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables pgtest reads.
const (
	EnvDSN     = "REWARDKIT_POSTGRES_DSN"
	EnvRequire = "REWARDKIT_REQUIRE_POSTGRES"
)

// shared is the cluster of this test binary, started by the first DSN call
// after Main.
var shared struct {
	once    sync.Once
	main    bool
	cluster *Cluster
	err     error

	tmplMu    sync.Mutex
	templates map[string]*template // by key, on the base server
}

// template is a database prepared once and cloned for every test.
type template struct {
	once sync.Once
	base string // the server's DSN
	name string
	err  error
}

// dropTemplates drops the template databases DSNFromTemplate made. Left
// on a long-lived server (REWARDKIT_POSTGRES_DSN), they pile up one per
// test binary run, and autovacuum then spends its time cycling through
// them: benchmarks on that server slow down.
func dropTemplates() {
	shared.tmplMu.Lock()
	defer shared.tmplMu.Unlock()
	for key, tm := range shared.templates {
		if tm.name != "" {
			dropDatabase(tm.base, tm.name)
		}
		delete(shared.templates, key)
	}
}

// Main runs the tests of m, drops the template databases, stops the
// shared cluster if one was started, and exits with the tests' code. Call
// it from TestMain.
func Main(m *testing.M) {
	shared.main = true
	code := m.Run()
	dropTemplates()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	os.Exit(code)
}

// DSN returns the DSN of a new, empty database, dropped when t ends.
// It skips t where PostgreSQL is absent (fails under
// REWARDKIT_REQUIRE_POSTGRES=1).
func DSN(t testing.TB) string {
	t.Helper()
	base := server(t)
	name, err := createDatabase(base, "")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { dropDatabase(base, name) })
	return withDatabase(base, name)
}

// server returns the DSN of the server that DSN and DSNFromTemplate make
// databases on: REWARDKIT_POSTGRES_DSN's, else the shared cluster's.
func server(t testing.TB) string {
	t.Helper()
	if base := os.Getenv(EnvDSN); base != "" {
		return base
	}
	c, err := cluster(t)
	if err != nil {
		unavailable(t, err)
	}
	return c.DSN("postgres")
}

// DSNFromTemplate is DSN for a database cloned from a template database
// that prepare set up (migrated) once per test binary and key. Cloning is a
// file copy on the server, far cheaper than migrating every fresh database.
func DSNFromTemplate(t testing.TB, key string, prepare func(dsn string) error) string {
	t.Helper()
	base := server(t)
	shared.tmplMu.Lock()
	if shared.templates == nil {
		shared.templates = map[string]*template{}
	}
	tm := shared.templates[base+"\x00"+key]
	if tm == nil {
		tm = &template{}
		shared.templates[base+"\x00"+key] = tm
	}
	shared.tmplMu.Unlock()
	tm.once.Do(func() {
		name, err := createDatabase(base, "")
		if err != nil {
			tm.err = err
			return
		}
		if err := prepare(withDatabase(base, name)); err != nil {
			dropDatabase(base, name)
			tm.err = fmt.Errorf("prepare template %s: %w", key, err)
			return
		}
		tm.base, tm.name = base, name
	})
	if tm.err != nil {
		t.Fatalf("pgtest: %v", tm.err)
	}
	// CREATE DATABASE ... TEMPLATE refuses while another clone is being
	// made from the same template: serialize the clones.
	shared.tmplMu.Lock()
	name, err := createDatabase(base, tm.name)
	shared.tmplMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { dropDatabase(base, name) })
	return withDatabase(base, name)
}

func cluster(t testing.TB) (*Cluster, error) {
	if !shared.main {
		// No Main to stop a shared cluster: this test gets its own.
		c, err := Start()
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() {
			if err := c.Stop(); err != nil {
				t.Logf("pgtest: %v", err)
			}
		})
		return c, nil
	}
	shared.once.Do(func() { shared.cluster, shared.err = Start() })
	return shared.cluster, shared.err
}

// ErrUnavailable means no PostgreSQL server could be found or started.
var ErrUnavailable = errors.New("pgtest: PostgreSQL unavailable")

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%v (%s=1)", err, EnvRequire)
	}
	t.Skipf("skipping: %v (set %s, or install initdb and pg_ctl)", err, EnvDSN)
}

// Cluster is a throwaway PostgreSQL cluster on a unix socket.
type Cluster struct {
	dir  string // data, socket and log
	port int
	bin  string
	cred *syscall.Credential // run the binaries as this user (when root)
}

// Start initialises and starts a cluster in a new temporary directory.
// ErrUnavailable when the binaries are missing or fail.
func Start() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c.dir = dir
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: running as root and no postgres user: %w", ErrUnavailable, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if c.port, err = freePort(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	data := filepath.Join(dir, "data")
	if err := c.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses='' -c max_connections=200 -c fsync=off -c full_page_writes=off",
		c.port, dir)
	if err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return c, nil
}

// DSN returns the DSN of database db in the cluster.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", c.dir, c.port, db)
}

// Stop stops the cluster at once and removes its directory.
func (c *Cluster) Stop() error {
	err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	return errors.Join(err, os.RemoveAll(c.dir))
}

func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Env = append(os.Environ(), "HOME="+c.dir)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s %s: %w\n%s", ErrUnavailable, name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// findBin returns the directory holding initdb and pg_ctl: the one on PATH,
// else the newest /usr/lib/postgresql/*/bin.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: initdb and pg_ctl not found on PATH or under /usr/lib/postgresql/*/bin", ErrUnavailable)
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// createDatabase creates rk_<random> on the server of base, as a copy of
// the database from when not empty, and returns its name.
func createDatabase(base, from string) (string, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "rk_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", base, err)
	}
	defer conn.Close(ctx)
	stmt := "CREATE DATABASE " + name
	if from != "" {
		stmt += " TEMPLATE " + pgx.Identifier{from}.Sanitize()
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

// withDatabase returns base with its database replaced by name.
func withDatabase(base, name string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u := base
		q := ""
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u, q = u[:i], u[i:]
		}
		if i := strings.LastIndexByte(u, '/'); i > strings.Index(u, "://")+2 {
			u = u[:i]
		}
		return u + "/" + name + q
	}
	// Keyword/value form: a later dbname wins.
	return base + " dbname=" + name
}

// dropDatabase drops database name on the server of base, if it can.
func dropDatabase(base, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}
