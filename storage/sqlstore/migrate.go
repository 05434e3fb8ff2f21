package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration files live in migrations/<dialect>/NNNN_name.sql, embedded in
// the binary. Versions are reserved by range so that each domain adds its
// own files without clashing: 0001-0099 core, 0100 risk, 0200 ledger,
// 0300 coupon, 0400 settlement, 0500 reward, 0600 changes across the
// tables of every domain. "{{prefix}}" in a file is replaced with the
// table prefix.
//
//go:embed migrations
var migrationFiles embed.FS

// ErrMigration is returned when the embedded migrations are malformed or
// one of them fails.
var ErrMigration = errors.New("sqlstore: migration failed")

// Migration is one versioned schema change of a dialect.
type Migration struct {
	Version int    // from the file name: 200 for 0200_ledger.sql
	Name    string // the file name
	SQL     string // with the table prefix filled in
}

// Migrations returns the dialect's migrations for the table prefix, in
// version order. ErrMigration when two files share a version or a file
// name does not start with a version.
func Migrations(d Dialect, prefix string) ([]Migration, error) {
	if !d.valid() {
		return nil, fmt.Errorf("%w: unknown dialect %v", ErrMigration, d)
	}
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMigration, err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		digits, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(digits)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: file %s does not start with a version (NNNN_name.sql)", ErrMigration, name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("%w: files %s and %s share version %d", ErrMigration, other, name, v)
		}
		seen[v] = name
		b, err := migrationFiles.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMigration, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: strings.ReplaceAll(string(b), "{{prefix}}", prefix)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out, nil
}

// Migrate applies, in version order and in one transaction, every
// embedded migration that the database has not recorded in
// <prefix>schema_migrations. It is safe to run from several instances at
// once: they take a lock (an advisory lock on PostgreSQL, the write lock
// on SQLite) and the later ones find nothing left to do. Errors wrap
// ErrMigration, with the failing file and the driver error.
func (s *Store) Migrate(ctx context.Context) (err error) {
	ms, err := Migrations(s.dialect, s.opts.TablePrefix)
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMigration, wrap("connect", err))
	}
	defer conn.Close()
	for _, stmt := range s.dialect.migrationBegin(s.opts.TablePrefix) {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return fmt.Errorf("%w: lock: %w", ErrMigration, wrap("begin", err))
		}
	}
	committed := false
	defer func() {
		if !committed {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
	}()
	table := s.opts.TablePrefix + "schema_migrations"
	if _, err := conn.ExecContext(ctx, s.dialect.migrationsTableDDL(table)); err != nil {
		return fmt.Errorf("%w: create %s: %w", ErrMigration, table, wrap("exec", err))
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM "+table)
	if err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrMigration, table, wrap("query", err))
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("%w: read %s: %w", ErrMigration, table, err)
		}
		applied[v] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrMigration, table, wrap("query", err))
	}
	record := s.dialect.rebind("INSERT INTO " + table + " (version, name, applied_at) VALUES (?, ?, ?)")
	now := s.dialect.timeArg(s.opts.Clock.Now())
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMigration, m.Name, wrap("exec", err))
		}
		if _, err := conn.ExecContext(ctx, record, m.Version, m.Name, now); err != nil {
			return fmt.Errorf("%w: record %s: %w", ErrMigration, m.Name, wrap("exec", err))
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("%w: commit: %w", ErrMigration, wrap("commit", err))
	}
	committed = true
	return nil
}
