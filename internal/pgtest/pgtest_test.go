package pgtest

import (
	"context"
	"os"
	"strings"
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

func TestTemplatesAreDropped(t *testing.T) {
	ctx := context.Background()
	dsn := DSNFromTemplate(t, "dropped", func(dsn string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE prepared (id int)")
		return err
	})
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT to_regclass('prepared') IS NOT NULL").Scan(&exists))
	require.True(t, exists, "the clone has the template's table")

	var name string
	shared.tmplMu.Lock()
	for key, tm := range shared.templates {
		if strings.HasSuffix(key, "\x00dropped") {
			name = tm.name
		}
	}
	shared.tmplMu.Unlock()
	require.NotEmpty(t, name)
	count := func() int {
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n))
		return n
	}
	require.Equal(t, 1, count())
	dropTemplates()
	assert.Zero(t, count(), "Main drops the templates it made")
}
