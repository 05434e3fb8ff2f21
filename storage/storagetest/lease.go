package storagetest

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
)

// RunLease checks leases.
func RunLease(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("one holder at a time", func(t *testing.T) {
		s := h.Open(t)
		l, ok, err := s.AcquireLease(ctx, "sweep", "a", t0, time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "a", l.Owner)
		assert.True(t, l.ExpiresAt.Equal(t0.Add(time.Minute)))
		first := l.Token

		l, ok, err = s.AcquireLease(ctx, "sweep", "b", t0.Add(30*time.Second), time.Minute)
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, "a", l.Owner, "the holder is reported")

		l, ok, err = s.AcquireLease(ctx, "sweep", "a", t0.Add(50*time.Second), time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "the holder renews")
		assert.Equal(t, first, l.Token, "renewal keeps the token")
		assert.True(t, l.ExpiresAt.Equal(t0.Add(110*time.Second)))

		_, ok, err = s.AcquireLease(ctx, "sweep", "b", t0.Add(100*time.Second), time.Minute)
		require.NoError(t, err)
		assert.False(t, ok, "renewed lease still held")

		l, ok, err = s.AcquireLease(ctx, "sweep", "b", t0.Add(111*time.Second), time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "expired lease changes hands")
		assert.Equal(t, "b", l.Owner)
		assert.Greater(t, l.Token, first, "a new holder gets a larger fencing token")

		_, ok, err = s.AcquireLease(ctx, "other", "a", t0, time.Minute)
		require.NoError(t, err)
		assert.True(t, ok, "leases are independent by name")
	})

	t.Run("release", func(t *testing.T) {
		s := h.Open(t)
		_, ok, err := s.AcquireLease(ctx, "sweep", "a", t0, time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.ReleaseLease(ctx, "sweep", "b"), "releasing another's lease does nothing")
		_, ok, err = s.AcquireLease(ctx, "sweep", "b", t0, time.Hour)
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, s.ReleaseLease(ctx, "sweep", "a"))
		_, ok, err = s.AcquireLease(ctx, "sweep", "b", t0.Add(time.Second), time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
	})

	t.Run("concurrent contenders on two instances: exactly one wins", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		n := h.writers()
		for round := range 5 {
			name := fmt.Sprintf("job-%d", round)
			var wins atomic.Int64
			var wg sync.WaitGroup
			for g := range n {
				s := s1
				if g%2 == 1 {
					s = s2
				}
				wg.Go(func() {
					_, ok, err := s.AcquireLease(ctx, name, fmt.Sprintf("owner-%d", g), t0, time.Minute)
					assert.NoError(t, err)
					if ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int64(1), wins.Load(), name)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		s := h.Open(t)
		_, _, err := s.AcquireLease(ctx, "", "a", t0, time.Minute)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		_, _, err = s.AcquireLease(ctx, "x", "", t0, time.Minute)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		_, _, err = s.AcquireLease(ctx, "x", "a", t0, 0)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
	})
}
