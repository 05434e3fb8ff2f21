package pgtest

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDSN(t *testing.T) {
	dsn := DSN(t)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT 1 + 1").Scan(&n))
	assert.Equal(t, 2, n)
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"host=/tmp port=5 dbname=postgres sslmode=disable": "host=/tmp port=5 sslmode=disable dbname=x",
		"postgres://u@h:5/postgres?sslmode=disable":        "postgres://u@h:5/x?sslmode=disable",
		"postgres://u@h:5": "postgres://u@h:5/x",
	} {
		assert.Equal(t, want, withDatabase(in, "x"), in)
	}
}
