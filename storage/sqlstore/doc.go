// Package sqlstore is rewardkit's storage on SQL databases: one adapter
// over database/sql for PostgreSQL (github.com/jackc/pgx/v5/stdlib) and
// SQLite (modernc.org/sqlite, pure Go). A *Store implements the storage
// port (storage.Transactor, IdempotencyStore, OutboxStore, LeaseStore,
// CounterStore) and the domains' stores (risk.Store, ...); see Example.
//
// # Choosing a dialect
//
// SQLite suits one host process with an embedded file: OpenSQLite(ctx,
// path, opts). It opens two pools on the file: writers, with the DSN
// options _pragma=busy_timeout(LockTimeout), _pragma=journal_mode(WAL),
// _pragma=foreign_keys(1) and _txlock=immediate (every transaction takes
// the write lock at BEGIN, so a read-then-write transaction never fails to
// upgrade), and readers in query-only mode, which WAL lets run beside the
// writer. PostgreSQL suits many host instances sharing one database:
// OpenPostgres(ctx, dsn, opts) with a pgx DSN or URL; it sets the session's
// lock_timeout to Options.LockTimeout. A host that already has a *sql.DB
// passes it to New (for SQLite, open it with SQLiteDSN); on PostgreSQL,
// opening it with stdlib.OptionAfterConnect(AfterConnect) gives its
// connections the cheaper encoding of batch arrays that OpenPostgres sets
// up.
//
// # Tables and migrations
//
// Every table name starts with Options.TablePrefix (default "rk_"), so
// rewardkit's tables sit beside the host's own; PostgreSQL hosts may also
// pick a schema with search_path in the DSN. The schema is kept by
// versioned SQL files embedded in the binary, one directory per dialect
// (migrations/postgres, migrations/sqlite), recorded in
// <prefix>schema_migrations. Migrate (run by the Open functions unless
// Options.SkipMigrate) applies the missing ones in one transaction under a
// lock, so instances starting together do not race. Version ranges are
// reserved per domain: 0001-0099 core, 0100 risk, 0200 ledger, 0300
// coupon, 0400 settlement, 0500 reward. Amounts are stored as integers of
// minor units or exact text, never as floating point; times in UTC
// (TIMESTAMPTZ on PostgreSQL, INTEGER unix microseconds on SQLite).
//
// # Transactions, and the host's own
//
// InTx runs a function in one transaction; every store method called with
// its context joins it, nested InTx calls too, and a failure anywhere makes
// the whole unit roll back (storage.Transactor). Methods called without a
// transaction run in a short one of their own; read-only ones outside a
// transaction use the readers' pool. Tx returns the *sql.Tx inside InTx so
// the host can write its rows in it. The other way round, WithTx hands the
// host's *sql.Tx to the store: the host's order row and rewardkit's coupon
// consumption then commit or roll back together, and the host commits;
// RollbackOnly tells it when a store call inside failed and it must roll
// back.
//
// # Errors
//
// Driver errors are mapped onto the storage sentinels, with the driver
// error kept in the chain for errors.As: PostgreSQL 40001 and 40P01, and
// SQLite SQLITE_LOCKED and SQLITE_BUSY_SNAPSHOT, are
// storage.ErrSerialization (InTx re-runs the transaction up to
// Options.Retry); PostgreSQL 55P03 and SQLite SQLITE_BUSY (the busy
// timeout ran out) are storage.ErrLockTimeout, not retried, since the usual
// cause is a call made with a context from outside an open transaction
// that waits for that transaction; unique violations are
// storage.ErrDuplicate. Conditional writes (counters, leases, idempotency
// claims) are judged by rows affected, never by catching an error, because
// PostgreSQL aborts a transaction on any failed statement.
package sqlstore
