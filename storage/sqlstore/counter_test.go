package sqlstore_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func ptr(v int64) *int64 { return &v }

func TestCounterBounds(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		start   int64 // written first, unbounded; 0 leaves the counter unwritten
		delta   int64
		bounds  storage.Bounds
		applied bool
		want    int64
	}{
		{"fresh within max", 0, 3, storage.AtMost(3), true, 3},
		{"fresh above max", 0, 4, storage.AtMost(3), false, 0},
		{"fresh below min", 0, -1, storage.AtLeast(0), false, 0},
		{"fresh with zero outside range", 0, 5, storage.Bounds{Min: ptr(5), Max: ptr(10)}, true, 5},
		{"fresh refused with zero outside range", 0, 11, storage.Bounds{Min: ptr(5), Max: ptr(10)}, false, 0},
		{"stored decrement to min", 5, -5, storage.AtLeast(0), true, 0},
		{"stored decrement below min", 5, -6, storage.AtLeast(0), false, 5},
		{"stored increment to max", 5, 5, storage.AtMost(10), true, 10},
		{"stored increment past max", 5, 6, storage.AtMost(10), false, 5},
		{"stored value already outside bounds", 20, -1, storage.AtMost(10), false, 20},
		{"zero delta", 5, 0, storage.AtMost(10), true, 5},
		{"unbounded", 5, -100, storage.Bounds{}, true, -95},
		{"overflow refused", math.MaxInt64 - 1, 2, storage.Bounds{}, false, math.MaxInt64 - 1},
		{"up to MaxInt64", math.MaxInt64 - 1, 1, storage.Bounds{}, true, math.MaxInt64},
		{"underflow refused", math.MinInt64 + 1, -2, storage.Bounds{}, false, math.MinInt64 + 1},
		{"huge delta against max", 0, math.MaxInt64, storage.AtMost(math.MinInt64 + 5), false, 0},
	}
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		for i, tt := range tests {
			key := fmt.Sprintf("k%d", i)
			if tt.start != 0 {
				require.NoError(t, incr(ctx, s, key, tt.start), tt.name)
			}
			v, ok, err := s.AddCounter(ctx, tenantA, key, tt.delta, tt.bounds)
			require.NoError(t, err, tt.name)
			assert.Equal(t, tt.applied, ok, tt.name)
			assert.Equal(t, tt.want, v, tt.name)
			assert.Equal(t, tt.want, counterOf(t, s, tenantA, key), tt.name)
			assert.Zero(t, counterOf(t, s, tenantB, key), "tenant B never sees it")
		}
		_, _, err := s.AddCounter(ctx, tenantA, "k", 1, storage.Bounds{Min: ptr(2), Max: ptr(1)})
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		_, _, err = s.AddCounter(ctx, tenantA, "", 1, storage.Bounds{})
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		_, err = s.Counter(ctx, "bad tenant", "k")
		require.ErrorIs(t, err, storage.ErrInvalidTenant)
	})
}

// 32 goroutines over two store instances (two "hosts") race on one
// bounded counter: no update is lost and the bound is never crossed.
func TestCounterConcurrent(t *testing.T) {
	ctx := context.Background()
	const writers, tries, limit = 32, 8, 200
	eachBackend(t, func(t *testing.T, b backend, place string) {
		stores := []*sqlstore.Store{b.open(t, place, sqlstore.Options{}), b.open(t, place, sqlstore.Options{SkipMigrate: true})}
		var applied, refused atomic.Int64
		var wg sync.WaitGroup
		for g := range writers {
			s := stores[g%2]
			wg.Go(func() {
				for range tries {
					// +2 bounded by limit, and -1 bounded by 0 on a second counter
					v, ok, err := s.AddCounter(ctx, tenantA, "stock", 2, storage.AtMost(limit))
					if !assert.NoError(t, err) {
						return
					}
					assert.LessOrEqual(t, v, int64(limit))
					if ok {
						applied.Add(1)
					} else {
						refused.Add(1)
					}
					_, _, err = s.AddCounter(ctx, tenantA, "free", 1, storage.Bounds{})
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(limit/2), applied.Load())
		assert.Equal(t, int64(writers*tries-limit/2), refused.Load())
		assert.Equal(t, int64(limit), counterOf(t, stores[0], tenantA, "stock"))
		assert.Equal(t, int64(writers*tries), counterOf(t, stores[1], tenantA, "free"), "no lost update")
	})
}

// BenchmarkCounterAdd: 16 goroutines add to four hot counters, each call
// its own transaction (upsert, read back, commit).
func BenchmarkCounterAdd(b *testing.B) {
	for _, be := range backends {
		for _, conns := range []int{2, 4, 16} {
			b.Run(fmt.Sprintf("%s/conns=%d", be.name, conns), func(b *testing.B) {
				benchCounterAdd(b, be.open(b, be.place(b), sqlstore.Options{MaxConns: conns}))
			})
		}
	}
}

func benchCounterAdd(b *testing.B, s *sqlstore.Store) {
	ctx := context.Background()
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ReportAllocs()
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("k%d", n.Add(1)%4) // four hot rows
		for pb.Next() {
			if _, _, err := s.AddCounter(ctx, tenantA, key, 1, storage.AtMost(math.MaxInt64-1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
