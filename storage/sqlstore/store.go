package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/storage"
)

// Defaults applied to a zero Options field.
const (
	DefaultTablePrefix = "rk_"
	DefaultLockTimeout = 5 * time.Second
	// DefaultMaxConns is the size of the PostgreSQL pool and of each SQLite
	// pool (writers and readers).
	DefaultMaxConns = 4
	maxPrefixLen    = 32
)

// Options configure a Store. The zero value is usable: every zero field
// takes its default.
type Options struct {
	// TablePrefix is put before every table name, so that rewardkit's
	// tables sit beside the host's own. Lower-case letters, digits and
	// '_', starting with a letter, at most 32 bytes. Default "rk_".
	TablePrefix string
	// Retry bounds the re-runs of a transaction that failed with a
	// retryable error. Zero means storage.DefaultRetryPolicy().
	Retry storage.RetryPolicy
	// Clock stamps records whose time the caller left zero. Default
	// storage.SystemClock.
	Clock storage.Clock
	// MaxConns caps the connections a constructor opens (per pool on
	// SQLite). Keep it above 1 on SQLite: a call made with a context from
	// outside an open transaction then fails after LockTimeout instead of
	// waiting forever for the pool. Ignored by New. Default 4.
	MaxConns int
	// LockTimeout is how long a statement waits for a lock before it fails
	// with storage.ErrLockTimeout: PostgreSQL's lock_timeout and SQLite's
	// busy_timeout. Set by OpenPostgres and OpenSQLite; New leaves the
	// host's session settings alone. Default 5s.
	LockTimeout time.Duration
	// SkipMigrate keeps OpenPostgres and OpenSQLite from running Migrate.
	SkipMigrate bool
	// GroupCommit bounds how many one-statement ledger commits (transfers
	// made outside a caller's transaction, on PostgreSQL) one Store sends
	// at once per tenant. Calls beyond it wait for a statement to end and
	// then go together in the next one, so that under load many transfers
	// share one round trip, one commit and one pass over a hot balance
	// row; without load nobody waits. Each call still commits or fails on
	// its own: a group that fails is sent again call by call. A queue that
	// has not moved for 20ms (a statement waiting for a row lock) opens
	// more statements, up to four times GroupCommit. Zero means
	// DefaultGroupCommit; a negative value turns grouping off.
	GroupCommit int
	// GroupCommitDelay is how long after a grouped statement ends the
	// next statement of its lane may wait for more calls: until it
	// carries as many as the statement that ended and the calls queued
	// behind it, which under load come straight back. One statement for
	// all of them costs the server far less than two (PostgreSQL's
	// commit_delay makes the same trade for WAL flushes). A lane whose
	// last statement carried one call never waits. Zero means
	// DefaultGroupCommitDelay; a negative value turns the wait off.
	GroupCommitDelay time.Duration
}

// DefaultGroupCommitDelay is Options.GroupCommitDelay's default: a
// fraction of a grouped statement's time on a small server (about 1ms),
// long enough for callers that come straight back and short beside the
// statement they would otherwise wait for anyway.
const DefaultGroupCommitDelay = 300 * time.Microsecond

// maxGroupCommitDelay bounds Options.GroupCommitDelay: a longer wait
// than a statement takes only adds latency.
const maxGroupCommitDelay = 100 * time.Millisecond

// DefaultGroupCommit is Options.GroupCommit's default: one statement at
// a time per tenant gathers the most transfers per statement, which on a
// small database server is what wins; a stalled queue is worked around by
// the burst below.
const DefaultGroupCommit = 1

// A group-commit queue that has not moved for groupStall starts one more
// statement, up to groupBurst times Options.GroupCommit at once.
const (
	groupStall = 20 * time.Millisecond
	groupBurst = 4
)

// Validate reports every problem of o, joined, each wrapping
// ErrInvalidOptions.
func (o Options) Validate() error {
	var errs []error
	if p := o.TablePrefix; p != "" {
		if len(p) > maxPrefixLen {
			errs = append(errs, fmt.Errorf("%w: table prefix %q is longer than %d bytes", ErrInvalidOptions, p, maxPrefixLen))
		}
		if p[0] < 'a' || p[0] > 'z' {
			errs = append(errs, fmt.Errorf("%w: table prefix %q must start with a lower-case letter", ErrInvalidOptions, p))
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				errs = append(errs, fmt.Errorf("%w: table prefix %q has the character %q (want [a-z0-9_])", ErrInvalidOptions, p, c))
				break
			}
		}
	}
	if o.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxConns %d is negative", ErrInvalidOptions, o.MaxConns))
	}
	if o.LockTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: LockTimeout %s is negative", ErrInvalidOptions, o.LockTimeout))
	} else if o.LockTimeout > 0 && o.LockTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("%w: LockTimeout %s is below 1ms", ErrInvalidOptions, o.LockTimeout))
	}
	if o.GroupCommitDelay > maxGroupCommitDelay {
		errs = append(errs, fmt.Errorf("%w: GroupCommitDelay %s is above %s", ErrInvalidOptions, o.GroupCommitDelay, maxGroupCommitDelay))
	}
	if o.Retry.MaxAttempts < 0 || o.Retry.BaseDelay < 0 || o.Retry.MaxDelay < 0 {
		errs = append(errs, fmt.Errorf("%w: Retry has a negative field: %+v", ErrInvalidOptions, o.Retry))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.TablePrefix == "" {
		o.TablePrefix = DefaultTablePrefix
	}
	if o.Retry == (storage.RetryPolicy{}) {
		o.Retry = storage.DefaultRetryPolicy()
	}
	if o.Clock == nil {
		o.Clock = storage.SystemClock{}
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.GroupCommit == 0 {
		o.GroupCommit = DefaultGroupCommit
	}
	if o.GroupCommitDelay == 0 {
		o.GroupCommitDelay = DefaultGroupCommitDelay
	}
	return o
}

// Store is rewardkit's storage on PostgreSQL or SQLite. It implements the
// storage port (Transactor, IdempotencyStore, OutboxStore, LeaseStore,
// CounterStore). It is safe for concurrent use; every method joins the
// transaction that InTx or WithTx put into its context.
type Store struct {
	db      *sql.DB // writes and transactions
	read    *sql.DB // read-only statements outside a transaction; db on PostgreSQL
	dialect Dialect
	opts    Options
	owned   bool // Close closes the pools
	q       queries

	ledgerGroup   *groupCommit[storage.TenantID, []ledger.TxRow, directOutcome] // nil: grouping off
	claimGroup    *groupCommit[claimLane, claimCall, claimOutcome]              // nil: grouping off
	knownBalances *knownBalances                                                // balance rows seen to exist
}

var (
	_ storage.Transactor       = (*Store)(nil)
	_ storage.IdempotencyStore = (*Store)(nil)
	_ storage.OutboxStore      = (*Store)(nil)
	_ storage.LeaseStore       = (*Store)(nil)
	_ storage.CounterStore     = (*Store)(nil)
)

// AfterConnect prepares a new pgx connection for the Store's batch
// statements: it lets the connection encode the slices they send (a
// column of a batch of transfers or claims) straight into PostgreSQL's
// binary array format, several times cheaper for the client than pgx's
// generic path, with the same bytes on the wire. OpenPostgres installs
// it; a host that opens its own pool for New can pass it to
// stdlib.OptionAfterConnect. It never fails.
func AfterConnect(_ context.Context, c *pgx.Conn) error {
	registerSliceCodecs(c.TypeMap())
	return nil
}

// New returns a Store over a pool the host already has. The host keeps
// ownership: Close does not close db. New does not migrate; call Migrate.
// For SQLite, open db with the DSN that SQLiteDSN returns (or one with
// _txlock=immediate and a busy_timeout). ErrInvalidOptions for bad options,
// a nil db or an unknown dialect.
func New(db *sql.DB, d Dialect, opts Options) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil *sql.DB", ErrInvalidOptions)
	}
	if !d.valid() {
		return nil, fmt.Errorf("%w: unknown dialect %v", ErrInvalidOptions, d)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return newStore(db, db, d, opts.withDefaults(), false), nil
}

func newStore(db, read *sql.DB, d Dialect, opts Options, owned bool) *Store {
	s := &Store{db: db, read: read, dialect: d, opts: opts, owned: owned}
	s.q = buildQueries(d, opts.TablePrefix)
	if d == Postgres {
		s.knownBalances = newKnownBalances(1 << 16)
	}
	if opts.GroupCommit > 0 {
		s.ledgerGroup = newGroupCommit[storage.TenantID, []ledger.TxRow, directOutcome](opts.GroupCommit, groupBurst*opts.GroupCommit, groupStall, opts.GroupCommitDelay)
		if d == Postgres {
			s.claimGroup = newGroupCommit[claimLane, claimCall, claimOutcome](opts.GroupCommit, groupBurst*opts.GroupCommit, groupStall, opts.GroupCommitDelay)
		}
	}
	return s
}

// OpenPostgres connects to PostgreSQL (a pgx DSN or URL), sets the
// session's lock_timeout to opts.LockTimeout, checks the connection and,
// unless opts.SkipMigrate, runs Migrate. Errors: ErrInvalidOptions, a
// malformed DSN, or the connection's or migration's error.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres DSN: %w", ErrInvalidOptions, err)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["lock_timeout"] = fmt.Sprintf("%dms", opts.LockTimeout.Milliseconds())
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(AfterConnect))
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := newStore(db, db, Postgres, opts, true)
	if err := s.open(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// SQLiteDSN returns the modernc.org/sqlite DSN that OpenSQLite uses for
// the writers' pool of the database file at path: busy_timeout set to
// lockTimeout, WAL journal, foreign keys on and every transaction begun
// IMMEDIATE. Hosts that open their own pool for New should use it.
func SQLiteDSN(path string, lockTimeout time.Duration) string {
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	return sqliteDSN(path, lockTimeout, true)
}

// OpenSQLite opens (creating it if needed) the SQLite database file at path
// with two pools: writers, whose transactions begin IMMEDIATE, and readers,
// in query-only mode, which WAL lets run beside the writer. Unless
// opts.SkipMigrate, it runs Migrate. Use a file (a temporary one in
// tests), not ":memory:", which would give every connection its own
// database. Errors: ErrInvalidOptions, or the open's or migration's error.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.Contains(path, ":memory:") {
		return nil, fmt.Errorf("%w: SQLite path %q: want a file path without '?' or '#'", ErrInvalidOptions, path)
	}
	opts = opts.withDefaults()
	w, err := sql.Open("sqlite", sqliteDSN(path, opts.LockTimeout, true))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(opts.MaxConns)
	w.SetMaxIdleConns(opts.MaxConns)
	// The first connection switches the file to WAL before any reader opens.
	if err := w.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlstore: open sqlite: %w", err), w.Close())
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, opts.LockTimeout, false))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlstore: open sqlite: %w", err), w.Close())
	}
	r.SetMaxOpenConns(opts.MaxConns)
	r.SetMaxIdleConns(opts.MaxConns)
	s := newStore(w, r, SQLite, opts, true)
	if err := s.open(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: connect %s: %w", s.dialect, err)
	}
	if s.opts.SkipMigrate {
		return nil
	}
	return s.Migrate(ctx)
}

// Close closes the pools the store opened (none for a store made by New).
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	var errs []error
	if s.read != s.db {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// DB returns the pool that writes and transactions use.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// TablePrefix returns the prefix of the store's tables.
func (s *Store) TablePrefix() string { return s.opts.TablePrefix }
