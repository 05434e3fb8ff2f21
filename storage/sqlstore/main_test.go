package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/pgtest"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend opens stores of one dialect over a fresh database per test.
type backend struct {
	name string
	// place returns where a fresh database lives: a file or a DSN.
	place func(t testing.TB) string
	// open opens a store over place.
	open func(t testing.TB, place string, opts sqlstore.Options) *sqlstore.Store
	// raw opens a plain pool on place, as a host would.
	raw func(t testing.TB, place string) *sql.DB
}

var backends = []backend{
	{
		name:  "sqlite",
		place: func(t testing.TB) string { return filepath.Join(t.TempDir(), "rk.db") },
		open: func(t testing.TB, path string, opts sqlstore.Options) *sqlstore.Store {
			s, err := sqlstore.OpenSQLite(context.Background(), path, opts)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		},
		raw: func(t testing.TB, path string) *sql.DB {
			db, err := sql.Open("sqlite", sqlstore.SQLiteDSN(path, 5*time.Second))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			return db
		},
	},
	{
		name: "postgres",
		place: func(t testing.TB) string {
			// Every test gets a fresh database, cloned from one migrated once.
			return pgtest.DSNFromTemplate(t, "sqlstore", func(dsn string) error {
				s, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{})
				if err != nil {
					return err
				}
				return s.Close()
			})
		},
		open: func(t testing.TB, dsn string, opts sqlstore.Options) *sqlstore.Store {
			if opts.MaxConns == 0 {
				opts.MaxConns = 16
			}
			s, err := sqlstore.OpenPostgres(context.Background(), dsn, opts)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		},
		raw: func(t testing.TB, dsn string) *sql.DB {
			db, err := sql.Open("pgx", dsn)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			return db
		},
	},
}

// eachBackend runs f as a subtest per dialect, each with a fresh database.
func eachBackend(t *testing.T, f func(t *testing.T, b backend, place string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b, b.place(t)) })
	}
}

// eachStore runs f with a fresh store per dialect.
func eachStore(t *testing.T, opts sqlstore.Options, f func(t *testing.T, s *sqlstore.Store)) {
	eachBackend(t, func(t *testing.T, b backend, place string) { f(t, b.open(t, place, opts)) })
}

const tenantA, tenantB storage.TenantID = "tenant-a", "tenant-b"

func counterOf(t testing.TB, s *sqlstore.Store, tenant storage.TenantID, key string) int64 {
	t.Helper()
	v, err := s.Counter(context.Background(), tenant, key)
	require.NoError(t, err)
	return v
}

func incr(ctx context.Context, s *sqlstore.Store, key string, delta int64) error {
	_, _, err := s.AddCounter(ctx, tenantA, key, delta, storage.Bounds{})
	return err
}
