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

// TestLockExcludes has many goroutines take the lock through every path
// (free, spinning, parked, handed over when starving) and checks that no
// two hold it at once and no increment is lost.
func TestLockExcludes(t *testing.T) {
	s := MustNew()
	ctx := context.Background()
	var inside atomic.Int32
	n := 0
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				if !assert.NoError(t, s.acquire(ctx)) {
					return
				}
				assert.Equal(t, int32(1), inside.Add(1))
				n++
				if i%50 == 0 {
					time.Sleep(2 * starveAfter) // long enough for waiters to starve
				}
				inside.Add(-1)
				s.release()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 32*300, n)
	assert.Zero(t, s.spinners.Load())
	assert.Zero(t, s.waiters.Load())
}

// TestSpinMutexExcludes is TestLockExcludes for spinMutex, which guards
// the order tables that encodings read outside the store's lock.
func TestSpinMutexExcludes(t *testing.T) {
	var m spinMutex
	var inside atomic.Int32
	n := 0
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				m.Lock()
				assert.Equal(t, int32(1), inside.Add(1))
				n++
				if i%100 == 0 {
					time.Sleep(2 * spinFor) // long enough for spinners to park
				}
				inside.Add(-1)
				m.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 32*300, n)
	assert.Zero(t, m.spinners.Load())
}
