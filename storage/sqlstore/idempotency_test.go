package sqlstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func TestIdempotencyClaimCompleteReplay(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		rec := storage.IdempotencyRecord{Tenant: tenantA, Operation: "coupon.claim", Key: "evt-1", Fingerprint: "fp1", CreatedAt: at}
		prior, err := s.ClaimIdempotencyKey(ctx, rec)
		require.NoError(t, err)
		assert.Nil(t, prior, "first claim wins")

		prior, err = s.ClaimIdempotencyKey(ctx, rec)
		require.NoError(t, err)
		require.NotNil(t, prior)
		assert.Equal(t, "fp1", prior.Fingerprint)
		assert.Nil(t, prior.Result, "no result before completion")
		assert.True(t, at.Truncate(time.Microsecond).Equal(prior.CreatedAt), "%v", prior.CreatedAt)

		require.NoError(t, s.CompleteIdempotencyKey(ctx, tenantA, "coupon.claim", "evt-1", []byte(`{"id":"c1"}`)))
		prior, err = s.ClaimIdempotencyKey(ctx, rec)
		require.NoError(t, err)
		require.NotNil(t, prior)
		assert.JSONEq(t, `{"id":"c1"}`, string(prior.Result))

		// Scoped by tenant and operation.
		for _, other := range []storage.IdempotencyRecord{
			{Tenant: tenantB, Operation: "coupon.claim", Key: "evt-1", Fingerprint: "fp1"},
			{Tenant: tenantA, Operation: "coupon.use", Key: "evt-1", Fingerprint: "fp1"},
		} {
			prior, err := s.ClaimIdempotencyKey(ctx, other)
			require.NoError(t, err)
			assert.Nil(t, prior)
		}
		require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, tenantB, "coupon.use", "evt-1", []byte(`1`)), storage.ErrNotFound)
	})
}

func TestIdempotencyClaimInsideTxKeepsPostgresTxAlive(t *testing.T) {
	ctx := context.Background()
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		rec := storage.IdempotencyRecord{Tenant: tenantA, Operation: "op", Key: "k", Fingerprint: "fp"}
		_, err := s.ClaimIdempotencyKey(ctx, rec)
		require.NoError(t, err)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			prior, err := s.ClaimIdempotencyKey(ctx, rec) // taken: no error, no aborted tx
			require.NoError(t, err)
			require.NotNil(t, prior)
			return incr(ctx, s, "after", 1)
		}))
		assert.Equal(t, int64(1), counterOf(t, s, tenantA, "after"))
	})
}

func TestIdempotencyConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, b backend, place string) {
		s1 := b.open(t, place, sqlstore.Options{})
		s2 := b.open(t, place, sqlstore.Options{SkipMigrate: true})
		var calls atomic.Int64
		var wg sync.WaitGroup
		results := make([]int64, 16)
		for g := range results {
			s := s1
			if g%2 == 1 {
				s = s2
			}
			wg.Go(func() {
				r, err := storage.Idempotent(ctx, s, s, storage.SystemClock{}, tenantA, "pay", "order-1", map[string]int{"amount": 5},
					func(ctx context.Context) (int64, error) {
						calls.Add(1)
						v, _, err := s.AddCounter(ctx, tenantA, "paid", 5, storage.Bounds{})
						return v, err
					})
				assert.NoError(t, err)
				results[g] = r
			})
		}
		wg.Wait()
		assert.Equal(t, int64(1), calls.Load(), "the command ran once")
		for _, r := range results {
			assert.Equal(t, int64(5), r, "every caller got the first result")
		}
		assert.Equal(t, int64(5), counterOf(t, s1, tenantA, "paid"))
	})
}

func TestIdempotencyBadInput(t *testing.T) {
	ctx := context.Background()
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		long := string(make([]byte, storage.MaxKeyLen+1))
		tests := []struct {
			name string
			rec  storage.IdempotencyRecord
			want error
		}{
			{"bad tenant", storage.IdempotencyRecord{Tenant: "a b", Operation: "op", Key: "k", Fingerprint: "f"}, storage.ErrInvalidTenant},
			{"no operation", storage.IdempotencyRecord{Tenant: tenantA, Key: "k", Fingerprint: "f"}, storage.ErrInvalidArgument},
			{"no key", storage.IdempotencyRecord{Tenant: tenantA, Operation: "op", Fingerprint: "f"}, storage.ErrInvalidArgument},
			{"long key", storage.IdempotencyRecord{Tenant: tenantA, Operation: "op", Key: long, Fingerprint: "f"}, storage.ErrInvalidArgument},
			{"no fingerprint", storage.IdempotencyRecord{Tenant: tenantA, Operation: "op", Key: "k"}, storage.ErrInvalidArgument},
		}
		for _, tt := range tests {
			_, err := s.ClaimIdempotencyKey(ctx, tt.rec)
			require.ErrorIs(t, err, tt.want, tt.name)
		}
		require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, "", "op", "k", nil), storage.ErrInvalidTenant)
	})
}
