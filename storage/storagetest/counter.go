package storagetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

// RunCounter checks bounded counters and tenant isolation.
func RunCounter(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("bounds", func(t *testing.T) {
		s := h.Open(t)
		applied := 0
		for range 5 {
			v, ok, err := s.AddCounter(ctx, tenantA, "stock", 1, storage.AtMost(3))
			require.NoError(t, err)
			if ok {
				applied++
			}
			assert.LessOrEqual(t, v, int64(3))
		}
		assert.Equal(t, 3, applied)
		v, ok, err := s.AddCounter(ctx, tenantA, "stock", -2, storage.AtLeast(0))
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, int64(1), v)
		v, ok, err = s.AddCounter(ctx, tenantA, "stock", -2, storage.AtLeast(0))
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, int64(1), v, "a refused delta reports the value and changes nothing")
		_, ok, err = s.AddCounter(ctx, tenantA, "fresh", 5, storage.AtMost(4))
		require.NoError(t, err)
		assert.False(t, ok, "a new counter starts at zero and is bounded too")
		assert.Equal(t, int64(0), counter(t, s, tenantA, "fresh"))
	})

	t.Run("tenant isolation", func(t *testing.T) {
		s := h.Open(t)
		_, _, err := s.AddCounter(ctx, tenantA, "k", 7, storage.Bounds{})
		require.NoError(t, err)
		assert.Equal(t, int64(0), counter(t, s, tenantB, "k"))
		_, _, err = s.AddCounter(ctx, tenantB, "k", 1, storage.Bounds{})
		require.NoError(t, err)
		assert.Equal(t, int64(7), counter(t, s, tenantA, "k"))
		_, _, err = s.AddCounter(ctx, "bad tenant!", "k", 1, storage.Bounds{})
		require.ErrorIs(t, err, storage.ErrInvalidTenant)
		_, err = s.Counter(ctx, "", "k")
		require.ErrorIs(t, err, storage.ErrInvalidTenant)
	})

	t.Run("concurrent writers on two instances never cross the bound", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		n := h.writers()
		const tries, limit = 10, 100 // n*tries attempts on a bound of 100
		var applied atomic.Int64
		var wg sync.WaitGroup
		for g := range n {
			s := s1
			if g%2 == 1 {
				s = s2
			}
			wg.Go(func() {
				for i := range tries {
					v, ok, err := s.AddCounter(ctx, tenantA, "stock", 1, storage.AtMost(limit))
					if !assert.NoError(t, err) {
						return
					}
					assert.LessOrEqual(t, v, int64(limit))
					if ok {
						applied.Add(1)
					}
					_, _, err = s.AddCounter(ctx, tenantA, fmt.Sprintf("mine-%d", g), 1, storage.Bounds{})
					assert.NoError(t, err, "writer %d try %d", g, i)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(min(limit, n*tries)), applied.Load())
		assert.Equal(t, int64(min(limit, n*tries)), counter(t, s1, tenantA, "stock"))
		for g := range n {
			assert.Equal(t, int64(tries), counter(t, s2, tenantA, fmt.Sprintf("mine-%d", g)))
		}
	})
}
