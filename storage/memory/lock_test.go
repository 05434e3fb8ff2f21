package memory

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The store's lock: a waiter spins a bounded while, by at most
// GOMAXPROCS-1 goroutines at once, before it parks.

func TestSpinGivesUpOnAHeldLock(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("nobody spins with one processor")
	}
	s := MustNew()
	require.NoError(t, s.acquire(context.Background()))
	start := time.Now()
	assert.False(t, s.spin(), "the lock stays held")
	assert.GreaterOrEqual(t, time.Since(start), spinFor)
	assert.True(t, s.locked.Load())
	assert.Zero(t, s.spinners.Load())
}

func TestSpinTakesAFreedLock(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("nobody spins with one processor")
	}
	s := MustNew()
	require.NoError(t, s.acquire(context.Background()))
	s.release()
	assert.True(t, s.spin())
	assert.True(t, s.locked.Load())
	assert.Zero(t, s.spinners.Load())
}

func TestSpinnersLeaveAProcessor(t *testing.T) {
	s := MustNew()
	// as many spinners as leave one processor to the holder: one more
	// does not spin, not even for a free lock
	s.spinners.Store(int32(runtime.GOMAXPROCS(0) - 1))
	assert.False(t, s.spin())
	assert.False(t, s.locked.Load())
	assert.Equal(t, int32(runtime.GOMAXPROCS(0)-1), s.spinners.Load())

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s.spinners.Store(0)
	assert.False(t, s.spin(), "one processor: no spinning")
	assert.False(t, s.locked.Load())
}

// TestLockExcludes has many goroutines take the store's lock through
// every path (free, spinning, parked, handed over when starving).
func TestLockExcludes(t *testing.T) {
	s := MustNew()
	ctx := context.Background()
	checkExcludes(t, func() bool { return assert.NoError(t, s.acquire(ctx)) }, s.release, 2*starveAfter)
	assert.Zero(t, s.spinners.Load())
	assert.Zero(t, s.waiters.Load())
}

// TestSpinMutexExcludes does the same for spinMutex, which guards the
// order tables that encodings read outside the store's lock.
func TestSpinMutexExcludes(t *testing.T) {
	var m spinMutex
	checkExcludes(t, func() bool { m.Lock(); return true }, m.Unlock, 2*spinFor)
	assert.Zero(t, m.spinners.Load())
}

// checkExcludes has 32 goroutines take a lock 300 times each, now and
// then holding it for hold (long enough for waiters to stop spinning, or
// to starve), and checks that no two hold it at once and no increment
// made under it is lost.
func checkExcludes(t *testing.T, lock func() bool, unlock func(), hold time.Duration) {
	var inside atomic.Int32
	n := 0
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				if !lock() {
					return
				}
				assert.Equal(t, int32(1), inside.Add(1))
				n++
				if i%50 == 0 {
					time.Sleep(hold)
				}
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 32*300, n)
}
