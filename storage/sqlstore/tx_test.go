package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func TestTxCommitAndRollback(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			return errors.Join(incr(ctx, s, "a", 1), incr(ctx, s, "b", 2))
		}))
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, incr(ctx, s, "a", 10))
			v, err := s.Counter(ctx, tenantA, "a")
			require.NoError(t, err)
			assert.Equal(t, int64(11), v, "the transaction sees its own write")
			return boom
		})
		require.ErrorIs(t, err, boom)
		assert.Equal(t, int64(1), counterOf(t, s, tenantA, "a"))
		assert.Equal(t, int64(2), counterOf(t, s, tenantA, "b"))
	})
}

func TestTxNestedFailureRollsBackAll(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, incr(ctx, s, "a", 1))
			_ = s.InTx(ctx, func(ctx context.Context) error { return boom }) // swallowed
			return incr(ctx, s, "b", 1)
		})
		require.ErrorIs(t, err, storage.ErrRollbackOnly)
		require.ErrorIs(t, err, boom)
		assert.Zero(t, counterOf(t, s, tenantA, "a"))
		assert.Zero(t, counterOf(t, s, tenantA, "b"))
	})
}

func TestTxStoreErrorsWithoutDatabaseFailureKeepTxUsable(t *testing.T) {
	ctx := context.Background()
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			err := s.CompleteIdempotencyKey(ctx, tenantA, "op", "missing", []byte(`1`))
			require.ErrorIs(t, err, storage.ErrNotFound) // the caller handles it
			return incr(ctx, s, "a", 1)
		}))
		assert.Equal(t, int64(1), counterOf(t, s, tenantA, "a"))
	})
}

func TestTxRetriesRetryableErrors(t *testing.T) {
	ctx := context.Background()
	eachStore(t, sqlstore.Options{Retry: storage.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}},
		func(t *testing.T, s *sqlstore.Store) {
			attempts := 0
			require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
				attempts++
				if err := incr(ctx, s, "a", 1); err != nil {
					return err
				}
				if attempts < 3 {
					return fmt.Errorf("try %d: %w", attempts, storage.ErrSerialization)
				}
				return nil
			}))
			assert.Equal(t, 3, attempts)
			assert.Equal(t, int64(1), counterOf(t, s, tenantA, "a"))

			attempts = 0
			err := s.InTx(ctx, func(ctx context.Context) error { attempts++; return storage.ErrConflict })
			require.ErrorIs(t, err, storage.ErrConflict)
			assert.Equal(t, 4, attempts, "bounded by Options.Retry")
		})
}

// A real deadlock on PostgreSQL (40P01) is mapped to ErrSerialization and
// the loser's transaction is re-run, so both finish.
func TestTxPostgresDeadlockIsRetried(t *testing.T) {
	ctx := context.Background()
	b := backends[1]
	s := b.open(t, b.place(t), sqlstore.Options{})
	require.NoError(t, incr(ctx, s, "x", 1))
	require.NoError(t, incr(ctx, s, "y", 1))
	var (
		mu       sync.Mutex
		attempts int
		ready    sync.WaitGroup
	)
	ready.Add(2)
	var once [2]sync.Once
	run := func(i int, first, second string) error {
		return s.InTx(ctx, func(ctx context.Context) error {
			mu.Lock()
			attempts++
			mu.Unlock()
			if err := incr(ctx, s, first, 1); err != nil {
				return err
			}
			once[i].Do(func() { ready.Done(); ready.Wait() }) // both hold one row
			return incr(ctx, s, second, 1)
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = run(0, "x", "y") })
	wg.Go(func() { errs[1] = run(1, "y", "x") })
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	assert.Equal(t, 3, attempts, "one transaction was re-run after the deadlock")
	assert.Equal(t, int64(3), counterOf(t, s, tenantA, "x"))
	assert.Equal(t, int64(3), counterOf(t, s, tenantA, "y"))
}

// A write made with a context from outside an open transaction, waiting for
// a row (PostgreSQL) or the write lock (SQLite) that transaction holds,
// fails with ErrLockTimeout after Options.LockTimeout instead of hanging.
func TestTxOutsideWriteTimesOut(t *testing.T) {
	ctx := context.Background()
	eachStore(t, sqlstore.Options{LockTimeout: 200 * time.Millisecond, Retry: storage.RetryPolicy{MaxAttempts: 3}},
		func(t *testing.T, s *sqlstore.Store) {
			require.NoError(t, incr(ctx, s, "a", 1))
			start := time.Now()
			err := s.InTx(ctx, func(txCtx context.Context) error {
				if err := incr(txCtx, s, "a", 1); err != nil {
					return err
				}
				err := incr(ctx, s, "a", 1) // outer ctx: not in the transaction
				require.ErrorIs(t, err, storage.ErrLockTimeout)
				assert.False(t, storage.IsRetryable(err), "waiting again would wait for ourselves")
				v, err := s.Counter(ctx, tenantA, "a") // reads do not wait
				require.NoError(t, err)
				assert.Equal(t, int64(1), v)
				return nil
			})
			require.NoError(t, err)
			assert.Less(t, time.Since(start), 5*time.Second)
			assert.Equal(t, int64(2), counterOf(t, s, tenantA, "a"))
		})
}

func TestHostTx(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	eachBackend(t, func(t *testing.T, b backend, place string) {
		s := b.open(t, place, sqlstore.Options{})
		host := b.raw(t, place)
		_, err := host.ExecContext(ctx, "CREATE TABLE orders (id TEXT PRIMARY KEY)")
		require.NoError(t, err)
		orders := func() int {
			var n int
			require.NoError(t, host.QueryRowContext(ctx, "SELECT count(*) FROM orders").Scan(&n))
			return n
		}
		insertOrder := s.Dialect() == sqlstore.Postgres

		for _, commit := range []bool{true, false} {
			t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
				tx, err := host.BeginTx(ctx, nil)
				require.NoError(t, err)
				q := "INSERT INTO orders (id) VALUES (?)"
				if insertOrder {
					q = "INSERT INTO orders (id) VALUES ($1)"
				}
				_, err = tx.ExecContext(ctx, q, fmt.Sprintf("o-%v", commit))
				require.NoError(t, err)
				hctx := s.WithTx(ctx, tx)
				got, ok := s.Tx(hctx)
				require.True(t, ok)
				assert.Same(t, tx, got)
				require.NoError(t, s.InTx(hctx, func(ctx context.Context) error { return incr(ctx, s, "consumed", 1) }))
				require.NoError(t, s.AppendOutbox(hctx, storage.Message{EventID: fmt.Sprintf("e-%v", commit), Tenant: tenantA,
					Topic: "order.paid", AggregateType: "order", AggregateID: "o"}))
				require.NoError(t, s.RollbackOnly(hctx))
				if commit {
					require.NoError(t, tx.Commit())
				} else {
					require.NoError(t, tx.Rollback())
				}
			})
		}
		assert.Equal(t, 1, orders(), "only the committed order")
		assert.Equal(t, int64(1), counterOf(t, s, tenantA, "consumed"), "our write committed and rolled back with the host's")

		tx, err := host.BeginTx(ctx, nil)
		require.NoError(t, err)
		hctx := s.WithTx(ctx, tx)
		require.ErrorIs(t, s.InTx(hctx, func(ctx context.Context) error { return boom }), boom)
		require.ErrorIs(t, s.RollbackOnly(hctx), boom, "the host learns it must roll back")
		require.NoError(t, tx.Rollback())
	})
}
