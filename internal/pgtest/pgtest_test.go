package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

func TestDSNGivesFreshDatabases(t *testing.T) {
	a, b := DSN(t), DSN(t)
	require.NotEqual(t, a, b)
	ctx := context.Background()
	for _, dsn := range []string{a, b} {
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		var tables, maxConns int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables))
		require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting('max_connections')::int").Scan(&maxConns))
		assert.Zero(t, tables, "a fresh database has no tables")
		if _, set := os.LookupEnv(EnvDSN); !set {
			assert.GreaterOrEqual(t, maxConns, 200)
		}
		_, err = conn.Exec(ctx, "CREATE TABLE t (id int)")
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ base, want string }{
		{"host=/tmp port=5432 user=postgres dbname=postgres", "host=/tmp port=5432 user=postgres dbname=postgres dbname=rk_x"},
		{"postgres://u:p@h:5432/postgres?sslmode=disable", "postgres://u:p@h:5432/rk_x?sslmode=disable"},
		{"postgresql://u@h", "postgresql://u@h/rk_x"},
	}
	for _, tt := range tests {
		got := withDatabase(tt.base, "rk_x")
		assert.Equal(t, tt.want, got)
		cfg, err := pgx.ParseConfig(got)
		require.NoError(t, err)
		assert.Equal(t, "rk_x", cfg.Database)
	}
}
