package sqlstore

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/storage"
)

func TestMapErrPostgres(t *testing.T) {
	tests := []struct {
		code      string
		want      error
		retryable bool
	}{
		{"40001", storage.ErrSerialization, true},
		{"40P01", storage.ErrSerialization, true},
		{"55P03", storage.ErrLockTimeout, false},
		{"23505", storage.ErrDuplicate, false},
		{"42P01", nil, false},
	}
	for _, tt := range tests {
		pe := &pgconn.PgError{Code: tt.code, Message: "x"}
		err := wrap("op", fmt.Errorf("driver: %w", pe))
		if tt.want != nil {
			require.ErrorIs(t, err, tt.want, tt.code)
		}
		for _, s := range []error{storage.ErrSerialization, storage.ErrLockTimeout, storage.ErrDuplicate} {
			if s != tt.want {
				assert.NotErrorIs(t, err, s, tt.code)
			}
		}
		assert.Equal(t, tt.retryable, storage.IsRetryable(err), tt.code)
		var got *pgconn.PgError
		require.ErrorAs(t, err, &got, "the driver error stays in the chain")
		assert.Equal(t, tt.code, got.Code)
	}
	assert.NoError(t, mapErr(nil))
	plain := errors.New("plain")
	assert.Equal(t, plain, mapErr(plain))
}

func TestRebind(t *testing.T) {
	assert.Equal(t, "SELECT $1, '?', $2", Postgres.rebind("SELECT ?, '?', ?"))
	assert.Equal(t, "SELECT ?, '?', ?", SQLite.rebind("SELECT ?, '?', ?"))
	assert.Equal(t, "Dialect(7)", Dialect(7).String())
}

// counterRange must accept exactly the stored values v for which v+delta
// neither overflows nor leaves the bounds.
func TestCounterRangeProperty(t *testing.T) {
	edge := rapid.SampledFrom([]int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64})
	num := rapid.OneOf(rapid.Int64(), rapid.Int64Range(-20, 20), edge)
	rapid.Check(t, func(t *rapid.T) {
		delta, v := num.Draw(t, "delta"), num.Draw(t, "v")
		var b storage.Bounds
		if rapid.Bool().Draw(t, "hasMin") {
			m := num.Draw(t, "min")
			b.Min = &m
		}
		if rapid.Bool().Draw(t, "hasMax") {
			m := num.Draw(t, "max")
			b.Max = &m
		}
		sum := new(big.Int).Add(big.NewInt(v), big.NewInt(delta))
		want := sum.IsInt64() && b.Within(sum.Int64())
		lo, hi, ok := counterRange(delta, b)
		got := ok && lo <= v && v <= hi
		if got != want {
			t.Fatalf("v=%d delta=%d bounds=%v/%v: range [%d,%d] ok=%v, want accept=%v", v, delta, b.Min, b.Max, lo, hi, ok, want)
		}
	})
}
