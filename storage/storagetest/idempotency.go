package storagetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

type idemPayload struct {
	User   string `json:"user"`
	Amount int64  `json:"amount"`
}

type idemResult struct {
	ID    string `json:"id"`
	Count int64  `json:"count"`
}

// RunIdempotency checks idempotency records and storage.Idempotent.
func RunIdempotency(t *testing.T, h Harness) {
	ctx := context.Background()
	clock := storage.SystemClock{}

	// run performs the command "add to the user's counter" under a key.
	run := func(ctx context.Context, s Store, tenant storage.TenantID, key string, p idemPayload, calls *atomic.Int64) (idemResult, error) {
		return storage.Idempotent(ctx, s, s, clock, tenant, "test.add", key, p, func(ctx context.Context) (idemResult, error) {
			calls.Add(1)
			v, _, err := s.AddCounter(ctx, tenant, p.User, p.Amount, storage.Bounds{})
			return idemResult{ID: "r-" + key, Count: v}, err
		})
	}

	t.Run("replay returns the first result", func(t *testing.T) {
		s := h.Open(t)
		var calls atomic.Int64
		p := idemPayload{User: "u1", Amount: 5}
		first, err := run(ctx, s, tenantA, "k1", p, &calls)
		require.NoError(t, err)
		again, err := run(ctx, s, tenantA, "k1", p, &calls)
		require.NoError(t, err)
		assert.Equal(t, first, again)
		assert.Equal(t, idemResult{ID: "r-k1", Count: 5}, again)
		assert.Equal(t, int64(1), calls.Load())
		assert.Equal(t, int64(5), counter(t, s, tenantA, "u1"))
	})

	t.Run("another payload under the same key is refused", func(t *testing.T) {
		s := h.Open(t)
		var calls atomic.Int64
		_, err := run(ctx, s, tenantA, "k1", idemPayload{User: "u1", Amount: 5}, &calls)
		require.NoError(t, err)
		_, err = run(ctx, s, tenantA, "k1", idemPayload{User: "u1", Amount: 6}, &calls)
		require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
		assert.Equal(t, int64(1), calls.Load())
		assert.Equal(t, int64(5), counter(t, s, tenantA, "u1"))
	})

	t.Run("a failed command leaves no claim", func(t *testing.T) {
		s := h.Open(t)
		boom := errors.New("boom")
		_, err := storage.Idempotent(ctx, s, s, clock, tenantA, "test.add", "k1", 1, func(ctx context.Context) (int, error) {
			_, _, err := s.AddCounter(ctx, tenantA, "u1", 1, storage.Bounds{})
			require.NoError(t, err)
			return 0, boom
		})
		require.ErrorIs(t, err, boom)
		var calls atomic.Int64
		r, err := run(ctx, s, tenantA, "k1", idemPayload{User: "u1", Amount: 2}, &calls)
		require.NoError(t, err)
		assert.Equal(t, int64(2), r.Count)
		assert.Equal(t, int64(1), calls.Load())
	})

	t.Run("keys are scoped by tenant and operation", func(t *testing.T) {
		s := h.Open(t)
		var calls atomic.Int64
		p := idemPayload{User: "u1", Amount: 1}
		_, err := run(ctx, s, tenantA, "k1", p, &calls)
		require.NoError(t, err)
		_, err = run(ctx, s, tenantB, "k1", p, &calls)
		require.NoError(t, err)
		_, err = storage.Idempotent(ctx, s, s, clock, tenantA, "test.other", "k1", p, func(context.Context) (int, error) { calls.Add(1); return 7, nil })
		require.NoError(t, err)
		assert.Equal(t, int64(3), calls.Load())
		assert.Equal(t, int64(1), counter(t, s, tenantA, "u1"))
		assert.Equal(t, int64(1), counter(t, s, tenantB, "u1"))
	})

	t.Run("replay inside a larger transaction keeps it usable", func(t *testing.T) {
		s := h.Open(t)
		var calls atomic.Int64
		p := idemPayload{User: "u1", Amount: 5}
		_, err := run(ctx, s, tenantA, "k1", p, &calls)
		require.NoError(t, err)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			r, err := run(ctx, s, tenantA, "k1", p, &calls)
			if err != nil {
				return err
			}
			assert.Equal(t, int64(5), r.Count)
			// On PostgreSQL a failed statement would have aborted the
			// transaction; the claim must not have failed one.
			return add(ctx, s, "after", 1)
		}))
		assert.Equal(t, int64(1), calls.Load())
		assert.Equal(t, int64(1), counter(t, s, tenantA, "after"))
	})

	t.Run("mismatch inside a larger transaction rolls it back", func(t *testing.T) {
		s := h.Open(t)
		var calls atomic.Int64
		_, err := run(ctx, s, tenantA, "k1", idemPayload{User: "u1", Amount: 5}, &calls)
		require.NoError(t, err)
		err = s.InTx(ctx, func(ctx context.Context) error {
			if err := add(ctx, s, "before", 1); err != nil {
				return err
			}
			_, err := run(ctx, s, tenantA, "k1", idemPayload{User: "u1", Amount: 9}, &calls)
			require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
			return nil // swallowed
		})
		require.ErrorIs(t, err, storage.ErrRollbackOnly)
		require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
		assert.Equal(t, int64(0), counter(t, s, tenantA, "before"))
		assert.Equal(t, int64(5), counter(t, s, tenantA, "u1"))
	})

	t.Run("a claim rolled back with its transaction can be used again", func(t *testing.T) {
		s := h.Open(t)
		var calls atomic.Int64
		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if _, err := run(ctx, s, tenantA, "k1", idemPayload{User: "u1", Amount: 5}, &calls); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		r, err := run(ctx, s, tenantA, "k1", idemPayload{User: "u1", Amount: 5}, &calls)
		require.NoError(t, err)
		assert.Equal(t, int64(5), r.Count)
		assert.Equal(t, int64(2), calls.Load())
		assert.Equal(t, int64(5), counter(t, s, tenantA, "u1"))
	})

	t.Run("concurrent callers with one key run it once", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		var calls atomic.Int64
		p := idemPayload{User: "u1", Amount: 3}
		n := h.writers()
		results := make([]idemResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for g := range n {
			s := s1
			if g%2 == 1 {
				s = s2
			}
			wg.Go(func() { results[g], errs[g] = run(ctx, s, tenantA, "same", p, &calls) })
		}
		wg.Wait()
		for g := range n {
			require.NoError(t, errs[g])
			assert.Equal(t, idemResult{ID: "r-same", Count: 3}, results[g])
		}
		assert.Equal(t, int64(1), calls.Load())
		assert.Equal(t, int64(3), counter(t, s1, tenantA, "u1"))
	})

	t.Run("bad input", func(t *testing.T) {
		s := h.Open(t)
		var calls atomic.Int64
		_, err := run(ctx, s, "", "k", idemPayload{}, &calls)
		require.ErrorIs(t, err, storage.ErrInvalidTenant)
		_, err = run(ctx, s, tenantA, "", idemPayload{}, &calls)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		_, err = storage.Idempotent(ctx, s, s, clock, tenantA, "op", "k", func() {}, func(context.Context) (int, error) { return 0, nil })
		require.ErrorIs(t, err, storage.ErrInvalidArgument, "a payload that cannot be encoded")
		assert.Equal(t, int64(0), calls.Load())
	})
}
