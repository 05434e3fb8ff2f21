package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Dialect names the SQL database behind a Store. Every difference between
// the databases (placeholders, upserts, column types, how IDs come back,
// migration locks, time encoding) lives in this file; the rest of the
// package writes one portable statement with '?' placeholders and lets the
// dialect rewrite it.
//
// The SQL stays close to what MySQL 8, MariaDB and TiDB also accept: a
// conditional UPDATE judged by rows affected rather than UPDATE ...
// RETURNING, and upserts built only here. (A MySQL dialect must open its
// connections with clientFoundRows=true: MySQL otherwise counts rows
// changed, not rows matched.)
type Dialect int

const (
	// Postgres is PostgreSQL 13 or later through the pgx v5 stdlib driver
	// ("pgx").
	Postgres Dialect = iota + 1
	// SQLite is SQLite 3.35 or later through modernc.org/sqlite ("sqlite").
	SQLite
)

// String returns the dialect's name, which is also the name of its
// migrations directory.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case SQLite:
		return "sqlite"
	default:
		return "Dialect(" + strconv.Itoa(int(d)) + ")"
	}
}

func (d Dialect) valid() bool { return d == Postgres || d == SQLite }

// rebind rewrites the '?' placeholders of a portable statement into the
// dialect's own. Question marks inside single-quoted literals are kept.
func (d Dialect) rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// placeholders returns n comma-separated '?' for an IN list.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// valueRows returns the VALUES list of a multi-row insert: rows
// parenthesised groups of cols placeholders, comma-separated.
func valueRows(rows, cols int) string {
	if rows <= 0 {
		return ""
	}
	one := "(" + placeholders(cols) + ")"
	return strings.Repeat(one+",", rows-1) + one
}

// insertIgnore builds "insert this row unless its key exists", judged by
// rows affected (1 inserted, 0 existed). It never raises a duplicate error,
// which on PostgreSQL would abort the surrounding transaction.
// MySQL: INSERT IGNORE (which also hides other errors) or ON DUPLICATE KEY
// UPDATE k = k.
func (d Dialect) insertIgnore(table string, cols, key []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" +
		placeholders(len(cols)) + ") ON CONFLICT (" + strings.Join(key, ", ") + ") DO NOTHING"
}

// upsert builds one statement that inserts a row or, when its key exists,
// updates it with set, but only where where holds. In set and where the
// proposed row is "excluded.col" and the stored one "table.col"; where may
// hold '?' placeholders that follow the inserted values. Rows affected is 1
// when it inserted or updated and 0 when where refused.
// PostgreSQL and SQLite share this syntax; MySQL needs ON DUPLICATE KEY
// UPDATE with the condition folded into each assignment (IF(cond, new, old)).
func (d Dialect) upsert(table string, cols, key []string, set, where string) string {
	return d.upsertRows(table, cols, key, set, where, 1)
}

// upsertRows is upsert of rows rows in one statement.
func (d Dialect) upsertRows(table string, cols, key []string, set, where string, rows int) string {
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
		valueRows(rows, len(cols)) + " ON CONFLICT (" + strings.Join(key, ", ") + ") DO UPDATE SET " + set
	if where != "" {
		q += " WHERE " + where
	}
	return q
}

// insertID runs a rebound INSERT of one row into a table whose primary key
// column id is generated, and returns that id. PostgreSQL's driver has no
// LastInsertId, so it uses RETURNING; SQLite and MySQL report it.
func (d Dialect) insertID(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	if d == Postgres {
		var id int64
		err := q.QueryRowContext(ctx, query+" RETURNING id", args...).Scan(&id)
		return id, err
	}
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// timeArg encodes t for a time column: TIMESTAMPTZ on PostgreSQL, INTEGER
// unix microseconds on SQLite. Both keep microseconds, in UTC.
func (d Dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d == SQLite {
		return t.UnixMicro()
	}
	return t
}

// nullTime is timeArg, with NULL for the zero time.
func (d Dialect) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.timeArg(t)
}

// dbTime scans a time column written by timeArg, in either encoding.
type dbTime struct {
	Time  time.Time
	Valid bool
}

// Scan implements sql.Scanner.
func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = dbTime{}
	case time.Time:
		*t = dbTime{Time: v.UTC(), Valid: true}
	case int64:
		*t = dbTime{Time: time.UnixMicro(v).UTC(), Valid: true}
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

var _ sql.Scanner = (*dbTime)(nil)

// migrationBegin returns the statements that open the migration
// transaction on a dedicated connection and take the lock that keeps
// instances starting together from migrating at once: a transaction-scoped
// advisory lock on PostgreSQL (released by COMMIT or ROLLBACK), the write
// lock of BEGIN IMMEDIATE on SQLite. MySQL would use GET_LOCK.
func (d Dialect) migrationBegin(prefix string) []string {
	if d == SQLite {
		return []string{"BEGIN IMMEDIATE"}
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("rewardkit/sqlstore/migrate/" + prefix))
	key := int64(h.Sum64())
	return []string{"BEGIN", "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(key, 10) + ")"}
}

// sqliteDSN builds a modernc.org/sqlite DSN for path. The write pool opens
// every transaction with BEGIN IMMEDIATE (_txlock=immediate), so that a
// read-then-write transaction never fails to upgrade its lock; readers get
// a pool of their own, in query-only mode, that WAL lets run beside the
// writer.
func sqliteDSN(path string, lockTimeout time.Duration, write bool) string {
	v := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(lockTimeout.Milliseconds(), 10) + ")",
		"_pragma=foreign_keys(1)",
	}
	if write {
		v = append(v, "_pragma=journal_mode(WAL)", "_txlock=immediate")
	} else {
		v = append(v, "_pragma=query_only(1)")
	}
	return path + "?" + strings.Join(v, "&")
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ querier       = (*sql.DB)(nil)
	_ querier       = (*sql.Tx)(nil)
	_ driver.Valuer = nullBytes(nil)
)

// nullBytes stores a nil slice as NULL and any other slice as bytes.
type nullBytes []byte

// Value implements driver.Valuer.
func (b nullBytes) Value() (driver.Value, error) {
	if b == nil {
		return nil, nil
	}
	return []byte(b), nil
}

// migrationsTableDDL creates the table that records applied migrations.
func (d Dialect) migrationsTableDDL(table string) string {
	if d == SQLite {
		return "CREATE TABLE IF NOT EXISTS " + table +
			" (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT"
	}
	return "CREATE TABLE IF NOT EXISTS " + table +
		" (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
}
