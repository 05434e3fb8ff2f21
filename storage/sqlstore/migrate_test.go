package sqlstore_test

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// schemaName finds the names that DDL creates, alters or drops.
var schemaName = regexp.MustCompile(`(?i)(?:CREATE|ALTER|DROP|ADD)\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|CONSTRAINT)\s+(?:IF (?:NOT )?EXISTS\s+)?(\w+)`)

func TestMigrations(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqlstore.Postgres, sqlstore.SQLite} {
		ms, err := sqlstore.Migrations(d, "px_")
		require.NoError(t, err)
		require.NotEmpty(t, ms)
		assert.Equal(t, 1, ms[0].Version)
		for i, m := range ms {
			assert.NotContains(t, m.SQL, "{{prefix}}")
			names := schemaName.FindAllStringSubmatch(m.SQL, -1)
			assert.NotEmpty(t, names, "%s names no table or index", m.Name)
			for _, n := range names {
				assert.True(t, strings.HasPrefix(n[1], "px_"), "%s: %q: every table and index takes the prefix", m.Name, n[0])
			}
			if i > 0 {
				assert.Greater(t, m.Version, ms[i-1].Version)
			}
			for _, line := range strings.Split(strings.ToUpper(m.SQL), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "--") {
					continue
				}
				for _, float := range []string{" REAL", " FLOAT", " DOUBLE", " NUMERIC"} {
					assert.NotContains(t, line, float, "%s: amounts are never float", m.Name)
				}
			}
		}
	}
	_, err := sqlstore.Migrations(sqlstore.Dialect(99), "x_")
	require.ErrorIs(t, err, sqlstore.ErrMigration)
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, b backend, place string) {
		var wg sync.WaitGroup
		stores := make([]*sqlstore.Store, 4)
		for i := range stores {
			stores[i] = b.open(t, place, sqlstore.Options{SkipMigrate: true, TablePrefix: "mig_"})
		}
		for _, s := range stores {
			wg.Go(func() { assert.NoError(t, s.Migrate(ctx)) })
		}
		wg.Wait()
		require.NoError(t, stores[0].Migrate(ctx), "again: nothing to do")

		ms, err := sqlstore.Migrations(stores[0].Dialect(), "mig_")
		require.NoError(t, err)
		var n int
		require.NoError(t, stores[0].DB().QueryRowContext(ctx, "SELECT count(*) FROM mig_schema_migrations").Scan(&n))
		assert.Equal(t, len(ms), n, "each migration recorded once")

		if b.name == "postgres" {
			// Keys compare byte by byte on PostgreSQL too (migration 0600),
			// whatever the database's collation: the same order as Go,
			// memory and SQLite.
			var n int
			var loose sql.NullString
			require.NoError(t, stores[0].DB().QueryRowContext(ctx, `SELECT count(*),
				string_agg(table_name || '.' || column_name, ', ') FILTER (WHERE collation_name IS DISTINCT FROM 'C')
				FROM information_schema.columns
				WHERE table_schema = current_schema() AND data_type = 'text'
				AND table_name LIKE 'mig\_%' AND table_name <> 'mig_schema_migrations'`).Scan(&n, &loose))
			assert.Greater(t, n, 100, "text columns seen")
			assert.False(t, loose.Valid, "text columns without COLLATE \"C\": %s", loose.String)
		}

		// Another prefix gets its own tables in the same database.
		other := b.open(t, place, sqlstore.Options{TablePrefix: "other_"})
		require.NoError(t, incr(ctx, other, "k", 1))
		require.NoError(t, incr(ctx, stores[1], "k", 5))
		assert.Equal(t, int64(1), counterOf(t, other, tenantA, "k"))
		assert.Equal(t, int64(5), counterOf(t, stores[2], tenantA, "k"))
	})
}
