package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

const tenantA, tenantB storage.TenantID = "tenant-a", "tenant-b"

func counter(t *testing.T, s Store, tenant storage.TenantID, key string) int64 {
	t.Helper()
	v, err := s.Counter(context.Background(), tenant, key)
	require.NoError(t, err)
	return v
}

func add(ctx context.Context, s Store, key string, delta int64) error {
	_, _, err := s.AddCounter(ctx, tenantA, key, delta, storage.Bounds{})
	return err
}

// RunTx checks the Transactor contract.
func RunTx(t *testing.T, h Harness) {
	ctx := context.Background()
	boom := errors.New("boom")

	t.Run("commit", func(t *testing.T) {
		s := h.Open(t)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			return errors.Join(add(ctx, s, "a", 1), add(ctx, s, "b", 2))
		}))
		assert.Equal(t, int64(1), counter(t, s, tenantA, "a"))
		assert.Equal(t, int64(2), counter(t, s, tenantA, "b"))
	})

	t.Run("rollback on error", func(t *testing.T) {
		s := h.Open(t)
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, add(ctx, s, "a", 1))
			require.NoError(t, add(ctx, s, "a", 1))
			return boom
		})
		require.ErrorIs(t, err, boom)
		assert.Equal(t, int64(0), counter(t, s, tenantA, "a"))
	})

	t.Run("nested joins outer", func(t *testing.T) {
		s := h.Open(t)
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			if err := add(ctx, s, "a", 1); err != nil {
				return err
			}
			return s.InTx(ctx, func(ctx context.Context) error {
				// the outer write is visible inside
				v, err := s.Counter(ctx, tenantA, "a")
				if err != nil {
					return err
				}
				if v != 1 {
					return fmt.Errorf("nested InTx saw %d, want 1", v)
				}
				return add(ctx, s, "b", 1)
			})
		}))
		assert.Equal(t, int64(1), counter(t, s, tenantA, "a"))
		assert.Equal(t, int64(1), counter(t, s, tenantA, "b"))
	})

	t.Run("nested failure marks rollback-only", func(t *testing.T) {
		s := h.Open(t)
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, add(ctx, s, "a", 1))
			inner := s.InTx(ctx, func(ctx context.Context) error {
				require.NoError(t, add(ctx, s, "b", 1))
				return boom
			})
			require.ErrorIs(t, inner, boom)
			return add(ctx, s, "c", 1) // the caller swallows inner and goes on
		})
		require.ErrorIs(t, err, storage.ErrRollbackOnly)
		require.ErrorIs(t, err, boom, "the cause travels with ErrRollbackOnly")
		for _, k := range []string{"a", "b", "c"} {
			assert.Equal(t, int64(0), counter(t, s, tenantA, k), k)
		}
	})

	t.Run("panic rolls back", func(t *testing.T) {
		s := h.Open(t)
		func() {
			defer func() { assert.Equal(t, "kaboom", recover()) }()
			_ = s.InTx(ctx, func(ctx context.Context) error {
				require.NoError(t, add(ctx, s, "a", 1))
				panic("kaboom")
			})
		}()
		assert.Equal(t, int64(0), counter(t, s, tenantA, "a"))
		require.NoError(t, add(ctx, s, "a", 1), "the store is usable after a panic")
		assert.Equal(t, int64(1), counter(t, s, tenantA, "a"))
	})

	t.Run("retryable errors re-run fn from the start", func(t *testing.T) {
		s := h.Open(t)
		attempts := 0
		err := s.InTx(ctx, func(ctx context.Context) error {
			attempts++
			if err := add(ctx, s, "a", 1); err != nil {
				return err
			}
			return s.InTx(ctx, func(ctx context.Context) error { // from deep inside, too
				if attempts < 3 {
					return fmt.Errorf("attempt %d: %w", attempts, storage.ErrSerialization)
				}
				return nil
			})
		})
		require.NoError(t, err)
		assert.Equal(t, 3, attempts)
		assert.Equal(t, int64(1), counter(t, s, tenantA, "a"), "failed attempts left nothing behind")
	})

	t.Run("retries are bounded", func(t *testing.T) {
		s := h.Open(t)
		attempts := 0
		err := s.InTx(ctx, func(ctx context.Context) error {
			attempts++
			return storage.ErrConflict
		})
		require.ErrorIs(t, err, storage.ErrConflict)
		assert.Greater(t, attempts, 1)
		assert.LessOrEqual(t, attempts, 20)
	})

	t.Run("non-retryable errors run once", func(t *testing.T) {
		s := h.Open(t)
		attempts := 0
		err := s.InTx(ctx, func(ctx context.Context) error { attempts++; return boom })
		require.ErrorIs(t, err, boom)
		assert.Equal(t, 1, attempts)
	})

	t.Run("cancelled context writes nothing", func(t *testing.T) {
		s := h.Open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.InTx(cctx, func(ctx context.Context) error { return add(ctx, s, "a", 1) })
		require.Error(t, err)
		assert.Equal(t, int64(0), counter(t, s, tenantA, "a"))
	})

	t.Run("call from outside an open transaction does not deadlock", func(t *testing.T) {
		s := h.Open(t)
		require.NoError(t, add(ctx, s, "a", 5))
		done := make(chan error, 1)
		go func() {
			done <- s.InTx(ctx, func(txCtx context.Context) error {
				if err := add(txCtx, s, "a", 1); err != nil {
					return err
				}
				// A read made with the outer context, not txCtx, while the
				// transaction is open and has written: it must return (the
				// committed value, or a lock timeout), never hang.
				outCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
				defer cancel()
				v, err := s.Counter(outCtx, tenantA, "a")
				switch {
				case err == nil && v != 5:
					return fmt.Errorf("outside read saw uncommitted %d", v)
				case err != nil && !errors.Is(err, storage.ErrLockTimeout) && !errors.Is(err, storage.ErrSerialization):
					return fmt.Errorf("outside read: %w", err)
				}
				return nil
			})
		}()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(90 * time.Second):
			t.Fatal("deadlock: transaction did not finish")
		}
		assert.Equal(t, int64(6), counter(t, s, tenantA, "a"))
	})

	t.Run("concurrent transactions on two instances lose no update", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		n := h.writers()
		const each = 5
		errs := make(chan error, n)
		for g := range n {
			s := s1
			if g%2 == 1 {
				s = s2
			}
			go func() {
				for range each {
					err := s.InTx(ctx, func(ctx context.Context) error {
						if err := add(ctx, s, "hot", 1); err != nil {
							return err
						}
						return add(ctx, s, fmt.Sprintf("w%d", g), 1)
					})
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range n {
			require.NoError(t, <-errs)
		}
		assert.Equal(t, int64(n*each), counter(t, s1, tenantA, "hot"))
		for g := range n {
			assert.Equal(t, int64(each), counter(t, s2, tenantA, fmt.Sprintf("w%d", g)))
		}
	})

	if h.BeginHostTx == nil {
		return
	}
	t.Run("host transaction: rollback", func(t *testing.T) {
		s := h.Open(t)
		host := h.BeginHostTx(t, s)
		require.NoError(t, s.InTx(host.Ctx, func(ctx context.Context) error { return add(ctx, s, "a", 1) }))
		require.NoError(t, add(host.Ctx, s, "a", 1))
		require.NoError(t, host.Rollback())
		assert.Equal(t, int64(0), counter(t, s, tenantA, "a"))
	})
	t.Run("host transaction: commit", func(t *testing.T) {
		s := h.Open(t)
		host := h.BeginHostTx(t, s)
		require.NoError(t, s.InTx(host.Ctx, func(ctx context.Context) error { return add(ctx, s, "a", 1) }))
		assert.Equal(t, int64(0), counter(t, s, tenantA, "a"), "nothing is visible before the host commits")
		require.NoError(t, host.Commit())
		assert.Equal(t, int64(1), counter(t, s, tenantA, "a"))
	})
	t.Run("host transaction: failure marks it rollback-only", func(t *testing.T) {
		s := h.Open(t)
		host := h.BeginHostTx(t, s)
		err := s.InTx(host.Ctx, func(ctx context.Context) error { return boom })
		require.ErrorIs(t, err, boom)
		tx, ok := storage.CurrentTx(host.Ctx, s)
		require.True(t, ok)
		require.ErrorIs(t, tx.RollbackOnly(), boom)
		require.NoError(t, host.Rollback())
	})
}
