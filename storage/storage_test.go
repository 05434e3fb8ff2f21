package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

func TestTenantValidate(t *testing.T) {
	for _, ok := range []storage.TenantID{"acme", "brand-1", "mkt:cn.east_2", storage.TenantID(strings.Repeat("a", 64))} {
		assert.NoError(t, ok.Validate(), ok)
	}
	for _, bad := range []storage.TenantID{"", "a b", "acme/x", "ümlaut", storage.TenantID(strings.Repeat("a", 65))} {
		assert.ErrorIs(t, bad.Validate(), storage.ErrInvalidTenant, string(bad))
	}
}

func TestIsRetryable(t *testing.T) {
	assert.True(t, storage.IsRetryable(fmt.Errorf("x: %w", storage.ErrSerialization)))
	assert.True(t, storage.IsRetryable(storage.ErrConflict))
	assert.True(t, storage.IsRetryable(fmt.Errorf("%w: %w", storage.ErrRollbackOnly, storage.ErrSerialization)))
	assert.False(t, storage.IsRetryable(storage.ErrNotFound))
	assert.False(t, storage.IsRetryable(nil))
}

func TestFingerprint(t *testing.T) {
	type p struct {
		A string
		B map[string]int
	}
	f1, err := storage.Fingerprint(p{"x", map[string]int{"b": 2, "a": 1}})
	require.NoError(t, err)
	f2, err := storage.Fingerprint(p{"x", map[string]int{"a": 1, "b": 2}})
	require.NoError(t, err)
	assert.Equal(t, f1, f2, "map order does not matter")
	f3, err := storage.Fingerprint(p{"y", nil})
	require.NoError(t, err)
	assert.NotEqual(t, f1, f3)
	_, err = storage.Fingerprint(make(chan int))
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

func TestBounds(t *testing.T) {
	assert.True(t, storage.Bounds{}.Within(-1<<62))
	assert.True(t, storage.AtMost(3).Within(3))
	assert.False(t, storage.AtMost(3).Within(4))
	assert.True(t, storage.AtLeast(0).Within(0))
	assert.False(t, storage.AtLeast(0).Within(-1))
}

func TestFakeClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := storage.NewFakeClock(t0)
	assert.Equal(t, t0, c.Now())
	assert.Equal(t, t0.Add(time.Hour), c.Advance(time.Hour))
	c.Set(t0)
	assert.Equal(t, t0, c.Now())
	var _ storage.Clock = storage.SystemClock{}
	assert.Equal(t, time.UTC, storage.SystemClock{}.Now().Location())
}

func TestPartitionOf(t *testing.T) {
	p := storage.PartitionOf("acme", "coupon", "c1")
	assert.Equal(t, p, storage.PartitionOf("acme", "coupon", "c1"), "stable")
	seen := map[int]bool{}
	for i := range 1000 {
		q := storage.PartitionOf("acme", "coupon", fmt.Sprint(i))
		require.GreaterOrEqual(t, q, 0)
		require.Less(t, q, storage.OutboxPartitions)
		seen[q] = true
	}
	assert.Len(t, seen, storage.OutboxPartitions, "aggregates spread over every partition")
	m := storage.Message{Tenant: "acme", AggregateType: "coupon", AggregateID: "c1"}
	assert.Equal(t, p, m.Partition())
}

// fakeHandle records what RunInTx did with a transaction.
type fakeHandle struct{ log *[]string }

func (h fakeHandle) Commit() error   { *h.log = append(*h.log, "commit"); return nil }
func (h fakeHandle) Rollback() error { *h.log = append(*h.log, "rollback"); return nil }

func TestRunInTx(t *testing.T) {
	ctx := context.Background()
	owner := new(int)
	var log []string
	begin := func(context.Context) (storage.TxHandle, error) {
		log = append(log, "begin")
		return fakeHandle{&log}, nil
	}
	policy := storage.RetryPolicy{MaxAttempts: 3}

	require.NoError(t, storage.RunInTx(ctx, owner, policy, begin, func(ctx context.Context) error {
		_, ok := storage.CurrentTx(ctx, owner)
		assert.True(t, ok)
		_, ok = storage.CurrentTx(ctx, new(int))
		assert.False(t, ok, "another owner's transaction is not visible")
		return storage.RunInTx(ctx, owner, policy, begin, func(context.Context) error { return nil })
	}))
	assert.Equal(t, []string{"begin", "commit"}, log, "the nested call joined")

	log = nil
	err := storage.RunInTx(ctx, owner, policy, begin, func(context.Context) error { return storage.ErrSerialization })
	require.ErrorIs(t, err, storage.ErrSerialization)
	assert.Equal(t, []string{"begin", "rollback", "begin", "rollback", "begin", "rollback"}, log, "bounded retries")

	log = nil
	hostCtx := storage.WithHostTx(ctx, owner, fakeHandle{&log})
	boom := errors.New("boom")
	require.ErrorIs(t, storage.RunInTx(hostCtx, owner, policy, begin, func(context.Context) error { return boom }), boom)
	assert.Empty(t, log, "a host transaction is neither begun, committed nor rolled back here")
	tx, ok := storage.CurrentTx(hostCtx, owner)
	require.True(t, ok)
	assert.ErrorIs(t, tx.RollbackOnly(), boom)
}

func TestRelayValidate(t *testing.T) {
	err := (&storage.Relay{}).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Publisher")
}
