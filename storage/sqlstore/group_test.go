package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

// TestGroupCommitQueue drives the queue with a send that the test
// releases: calls made while the lane is busy go together in the next
// send, a call whose context ends while queued leaves the queue with the
// context's error and is in no send, and other tenants have lanes of
// their own.
func TestGroupCommitQueue(t *testing.T) {
	g := newGroupCommit[storage.TenantID, int, int](1, 1, time.Hour, 0)
	release := make(chan struct{})
	var mu sync.Mutex
	var sends [][]int
	send := func(_ context.Context, group []*groupCall[int, int]) {
		var ins []int
		for _, c := range group {
			ins = append(ins, c.in)
			c.out = c.in * 10
		}
		mu.Lock()
		sends = append(sends, ins)
		mu.Unlock()
		if group[0].in == 1 {
			<-release // the first send holds the lane until released
		}
	}
	queued := func(n int) func() bool {
		return func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			l := g.lanes["a"]
			return l != nil && len(l.queue) == n
		}
	}
	var wg sync.WaitGroup
	results := make(map[int]int)
	var rmu sync.Mutex
	call := func(ctx context.Context, tenant storage.TenantID, in int) {
		defer wg.Done()
		out, alone, err := g.do(ctx, tenant, in, send)
		rmu.Lock()
		defer rmu.Unlock()
		if err != nil {
			results[in] = -1
			return
		}
		assert.False(t, alone)
		results[in] = out
	}
	wg.Add(1)
	go call(context.Background(), "a", 1)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sends) == 1 }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	wg.Add(3)
	go call(context.Background(), "a", 2)
	require.Eventually(t, queued(1), 5*time.Second, time.Millisecond)
	go call(ctx, "a", 3)
	require.Eventually(t, queued(2), 5*time.Second, time.Millisecond)
	go call(context.Background(), "a", 4)
	require.Eventually(t, queued(3), 5*time.Second, time.Millisecond)
	cancel()
	require.Eventually(t, queued(2), 5*time.Second, time.Millisecond, "the cancelled call leaves the queue")

	wg.Add(1)
	go call(context.Background(), "b", 5) // another tenant does not wait for "a"
	require.Eventually(t, func() bool { rmu.Lock(); defer rmu.Unlock(); return results[5] == 50 }, 5*time.Second, time.Millisecond)

	close(release)
	wg.Wait()
	assert.Equal(t, map[int]int{1: 10, 2: 20, 3: -1, 4: 40, 5: 50}, results)
	assert.ElementsMatch(t, [][]int{{1}, {5}, {2, 4}}, sends, "2 and 4 went in one send; 3 in none")
	assert.Empty(t, g.lanes, "idle lanes are dropped")
}

// TestGroupCommitStall: while the lane's only statement runs, a queue
// that does not move for the stall time starts another one (up to the
// burst), so the calls behind a stuck statement are not held up by it.
func TestGroupCommitStall(t *testing.T) {
	g := newGroupCommit[storage.TenantID, int, int](1, 2, 10*time.Millisecond, 0)
	release := make(chan struct{})
	send := func(_ context.Context, group []*groupCall[int, int]) {
		for _, c := range group {
			c.out = c.in
		}
		if group[0].in == 1 {
			<-release
		}
	}
	first := make(chan int)
	go func() {
		out, _, _ := g.do(context.Background(), "a", 1, send)
		first <- out
	}()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.lanes["a"] != nil && g.lanes["a"].running == 1
	}, 5*time.Second, time.Millisecond)
	out, alone, err := g.do(context.Background(), "a", 2, send) // stalls 10ms, then starts a second statement
	require.NoError(t, err)
	assert.False(t, alone)
	assert.Equal(t, 2, out)
	select {
	case <-first:
		t.Fatal("the stuck statement ended early")
	default:
	}
	close(release)
	assert.Equal(t, 1, <-first)
	g.mu.Lock()
	assert.Empty(t, g.lanes)
	g.mu.Unlock()
}

// TestGroupCommitFill: callers that come straight back (a closed loop,
// as under load) find a lane whose handed-over group waits for them, so
// that after the first rounds every statement carries every caller.
func TestGroupCommitFill(t *testing.T) {
	const callers, rounds = 8, 20
	g := newGroupCommit[storage.TenantID, int, int](1, 1, time.Hour, 200*time.Millisecond)
	sizes := closedLoop(t, g, callers, rounds)
	full := 0
	for _, n := range sizes {
		if n == callers {
			full++
		}
	}
	assert.GreaterOrEqual(t, full, rounds-3, "group sizes %v", sizes)
}

// TestGroupCommitFillTwoStatements: with two statements at once per
// lane, one ends while the other's group waits to fill, and moves the
// lane's target and wait; the waiting group still leaves when its own
// wait is over (it once waited for a timer that had fired already, for
// ever).
func TestGroupCommitFillTwoStatements(t *testing.T) {
	g := newGroupCommit[storage.TenantID, int, int](2, 2, time.Hour, 2*time.Millisecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		closedLoop(t, g, 5, 200)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("callers stuck in the group commit")
	}
}

// closedLoop runs callers goroutines that each make rounds calls through
// g, one after the other, against a send that takes a millisecond, checks
// every call's answer, and returns the sizes of the groups sent.
func closedLoop(t *testing.T, g *groupCommit[storage.TenantID, int, int], callers, rounds int) []int {
	var mu sync.Mutex
	var sizes []int
	send := func(_ context.Context, group []*groupCall[int, int]) {
		mu.Lock()
		sizes = append(sizes, len(group))
		mu.Unlock()
		for _, c := range group {
			c.out = c.in
		}
		time.Sleep(time.Millisecond) // the statement
	}
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				out, alone, err := g.do(context.Background(), "a", i*rounds+r, send)
				assert.NoError(t, err)
				assert.False(t, alone)
				assert.Equal(t, i*rounds+r, out)
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range sizes {
		total += n
	}
	assert.Equal(t, callers*rounds, total, "every call sent once")
	return sizes
}
