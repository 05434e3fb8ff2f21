package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

// A store operation that panics outside a transaction takes back what it
// wrote and frees the store's lock, so the store goes on serving.
func TestPanicInOperationFreesTheLock(t *testing.T) {
	s, err := New(Options{LockWait: 200 * time.Millisecond})
	require.NoError(t, err)
	ctx := context.Background()
	written := false
	require.Panics(t, func() {
		_ = s.do(ctx, func(tx *txn) error {
			written = true
			tx.onUndo(func() { written = false })
			panic("boom")
		})
	})
	assert.False(t, written, "the panicking operation's write is taken back")
	v, ok, err := s.AddCounter(ctx, "shop", "k", 1, storage.Bounds{})
	require.NoError(t, err, "the lock is free")
	assert.True(t, ok)
	assert.Equal(t, int64(1), v)
}
