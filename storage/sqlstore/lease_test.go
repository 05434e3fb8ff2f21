package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func TestLeaseLifecycle(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		l, ok, err := s.AcquireLease(ctx, "sweep", "a", t0, time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, storage.Lease{Name: "sweep", Owner: "a", Token: 1, ExpiresAt: t0.Add(time.Minute)}, l)

		l, ok, err = s.AcquireLease(ctx, "sweep", "b", t0.Add(30*time.Second), time.Minute)
		require.NoError(t, err)
		assert.False(t, ok, "held by a")
		assert.Equal(t, "a", l.Owner)

		l, ok, err = s.AcquireLease(ctx, "sweep", "a", t0.Add(50*time.Second), time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "renewal")
		assert.Equal(t, int64(1), l.Token, "a renewal keeps the token")
		assert.True(t, t0.Add(110*time.Second).Equal(l.ExpiresAt))

		l, ok, err = s.AcquireLease(ctx, "sweep", "b", t0.Add(110*time.Second), time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "expired at now: b takes it")
		assert.Equal(t, int64(2), l.Token, "fencing token grows")

		require.NoError(t, s.ReleaseLease(ctx, "sweep", "a"), "not a's: no-op")
		_, ok, err = s.AcquireLease(ctx, "sweep", "c", t0.Add(111*time.Second), time.Minute)
		require.NoError(t, err)
		assert.False(t, ok)

		require.NoError(t, s.ReleaseLease(ctx, "sweep", "b"))
		l, ok, err = s.AcquireLease(ctx, "sweep", "c", t0.Add(112*time.Second), time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "released leases are free at once")
		assert.Equal(t, int64(3), l.Token)

		_, _, err = s.AcquireLease(ctx, "", "a", t0, time.Minute)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		_, _, err = s.AcquireLease(ctx, "x", "a", t0, 0)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		require.ErrorIs(t, s.ReleaseLease(ctx, "x", ""), storage.ErrInvalidArgument)
	})
}

func TestLeaseContention(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	eachBackend(t, func(t *testing.T, b backend, place string) {
		stores := []*sqlstore.Store{b.open(t, place, sqlstore.Options{}), b.open(t, place, sqlstore.Options{SkipMigrate: true})}
		for round := range 3 {
			var wins atomic.Int64
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					_, ok, err := stores[g%2].AcquireLease(ctx, "cycle", fmt.Sprintf("o%d-%d", round, g), now, time.Minute)
					assert.NoError(t, err)
					if ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int64(1), wins.Load(), "round %d: one winner", round)
			now = now.Add(2 * time.Minute)
		}
		l, ok, err := stores[0].AcquireLease(ctx, "cycle", "last", now, time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int64(4), l.Token, "one token per change of hands")
	})
}
