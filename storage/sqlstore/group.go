package sqlstore

import (
	"context"
	"sync"
	"time"
)

// groupCommit lets concurrent one-statement commits share a statement, as
// PostgreSQL's own group commit shares a WAL flush. Each key (a tenant,
// say) has a lane: its queue and its statements in flight. At most limit
// statements per lane run at once; a call that finds them all busy
// queues, and when a statement ends, the first queued call takes every
// queued call of its key and sends them as one statement. A queue that
// has not moved for stall (a statement waiting for a row lock held by a
// long transaction) starts one more statement, up to burst, so that one
// slow statement does not hold up every transfer behind it. Nobody waits
// when there is no contention, and under contention each statement
// carries many calls: one round trip, one executor start, one commit and
// one pass over a hot row for all of them.
//
// With a delay, the next statement after one that carried n calls (plus
// those queued behind it) waits, at most delay after that statement
// ended, until it carries as many: see fill.
//
// A group that fails for any reason is not retried as a group: each call
// then runs alone, so a call is never failed (nor replayed) by another
// call's input, and what one call sees is exactly what it would have seen
// without grouping.
type groupCommit[K comparable, C, R any] struct {
	limit int           // statements at once per lane
	burst int           // statements at once per lane when the queue stalls
	stall time.Duration // how long the head of the queue waits before it starts one more
	delay time.Duration // how long after a statement the next one may wait to fill; 0: never
	mu    sync.Mutex
	lanes map[K]*groupLane[C, R] // by key
	// sweepAt is the number of lanes at which idle ones are swept out
	// (lanes outlive their last statement by delay).
	sweepAt int
}

type groupLane[C, R any] struct {
	running int
	queue   []*groupCall[C, R]
	// target is how many calls the next group waits for, until until
	// (see fill): those of the statement that ended last, which under
	// load come straight back, and those that queued behind it.
	target int
	until  time.Time
	// filling counts the leaders waiting in fill; arrive wakes one.
	filling int
	arrive  chan struct{}
}

// groupCall is one caller's part of a group: its input, and what the
// group's statement decided for it: out, or alone (send it by itself).
type groupCall[C, R any] struct {
	in    C
	out   R
	alone bool
	// lead receives the group this call is to send (itself first), or
	// nil when another call sent it and its result is set.
	lead chan []*groupCall[C, R]
}

func newGroupCommit[K comparable, C, R any](limit, burst int, stall, delay time.Duration) *groupCommit[K, C, R] {
	return &groupCommit[K, C, R]{limit: limit, burst: max(limit, burst), stall: stall, delay: delay,
		lanes: make(map[K]*groupLane[C, R]), sweepAt: minSweep}
}

// minSweep is the fewest lanes at which idle ones are swept out.
const minSweep = 1024

// do runs in through send, alone or with other calls of its key. send
// is called with one or more calls and must set every call's out or
// alone; it runs with a context that no one caller cancels (each
// statement is bounded by the session's lock_timeout). do returns the
// call's out, or alone=true when the caller is to send it by itself.
// ctx bounds only the wait in the queue: its error is returned when the
// call left the queue before any statement took it.
func (g *groupCommit[K, C, R]) do(ctx context.Context, key K, in C, send func(context.Context, []*groupCall[C, R])) (out R, alone bool, err error) {
	c := &groupCall[C, R]{in: in}
	g.mu.Lock()
	lane := g.lanes[key]
	if lane == nil {
		if len(g.lanes) >= g.sweepAt {
			g.sweep(time.Now())
		}
		lane = &groupLane[C, R]{}
		g.lanes[key] = lane
	}
	if lane.running < g.limit {
		lane.running++
		g.mu.Unlock()
		c = g.lead(ctx, key, g.fill(key, []*groupCall[C, R]{c}), send)
		return c.out, c.alone, nil
	}
	c.lead = make(chan []*groupCall[C, R], 1)
	lane.queue = append(lane.queue, c)
	if lane.filling > 0 {
		select {
		case lane.arrive <- struct{}{}:
		default:
		}
	}
	g.mu.Unlock()

	stall := time.NewTimer(g.stall)
	defer stall.Stop()
	for {
		select {
		case group := <-c.lead:
			if group != nil {
				c = g.lead(ctx, key, g.fill(key, group), send)
			}
			return c.out, c.alone, nil
		case <-stall.C:
			// The lane has not moved for a while (a statement waits for a
			// row lock, say): the head of the queue starts one more
			// statement for everyone queued, up to burst at once.
			g.mu.Lock()
			if len(lane.queue) > 0 && lane.queue[0] == c && lane.running < g.burst {
				group := lane.queue
				lane.queue = nil
				lane.running++
				g.mu.Unlock()
				c = g.lead(ctx, key, group, send)
				return c.out, c.alone, nil
			}
			g.mu.Unlock()
		case <-ctx.Done():
			g.mu.Lock()
			for i, q := range lane.queue {
				if q == c {
					lane.queue = append(lane.queue[:i], lane.queue[i+1:]...)
					g.mu.Unlock()
					return out, false, ctx.Err()
				}
			}
			g.mu.Unlock()
			// Taken into a group already: its statement is short, so wait
			// for the outcome rather than leave the caller not knowing it.
			if group := <-c.lead; group != nil {
				c = g.lead(ctx, key, g.fill(key, group), send)
			}
			return c.out, c.alone, nil
		}
	}
}

// fill lets group (its leader holds one of the lane's statements) wait
// for the lane's target, until the lane's until, taking in the calls that
// queue meanwhile.
// Under load the callers of the statement that just ended come straight
// back, within microseconds; one statement for all of them costs the
// server far less than two, since a statement's fixed cost (its round
// trip, executor start and commit) outweighs what each call adds.
// PostgreSQL's commit_delay makes the same trade for WAL flushes. A lane
// whose last statement carried one call, or ended more than the delay
// ago, does not wait.
func (g *groupCommit[K, C, R]) fill(key K, group []*groupCall[C, R]) []*groupCall[C, R] {
	if g.delay <= 0 {
		return group
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	lane := g.lanes[key]
	if wait := time.Until(lane.until); wait > 0 && len(group)+len(lane.queue) < lane.target {
		// One timer for the whole wait: another statement of the lane may
		// end meanwhile and move the lane's target and until, but this group
		// waits no longer than it was first told.
		timer := time.NewTimer(wait)
		defer timer.Stop()
		if lane.arrive == nil {
			lane.arrive = make(chan struct{}, 1)
		}
	gather:
		for len(group)+len(lane.queue) < lane.target {
			lane.filling++
			g.mu.Unlock()
			select {
			case <-lane.arrive:
				g.mu.Lock()
				lane.filling--
			case <-timer.C:
				g.mu.Lock()
				lane.filling--
				break gather
			}
		}
	}
	group = append(group, lane.queue...)
	lane.queue = nil
	return group
}

// lead sends group (whose first call is the caller's), hands its
// statement to the calls that queued meanwhile and wakes the other members
// with their results.
func (g *groupCommit[K, C, R]) lead(ctx context.Context, key K, group []*groupCall[C, R], send func(context.Context, []*groupCall[C, R])) *groupCall[C, R] {
	send(context.WithoutCancel(ctx), group)
	g.mu.Lock()
	lane := g.lanes[key]
	if g.delay > 0 {
		lane.target, lane.until = len(group)+len(lane.queue), time.Now().Add(g.delay)
	}
	if next := lane.queue; len(next) > 0 {
		lane.queue = nil
		next[0].lead <- next
	} else {
		lane.running--
		if lane.running == 0 && g.delay <= 0 {
			delete(g.lanes, key)
		}
	}
	g.mu.Unlock()
	for _, c := range group[1:] {
		c.lead <- nil
	}
	return group[0]
}

// sweep drops the lanes that are idle and past their fill time (with a
// delay, a lane outlives its last statement by it), and sets the next
// sweep for when the lanes have doubled.
func (g *groupCommit[K, C, R]) sweep(now time.Time) {
	for k, l := range g.lanes {
		if l.running == 0 && len(l.queue) == 0 && !now.Before(l.until) {
			delete(g.lanes, k)
		}
	}
	g.sweepAt = max(minSweep, 2*len(g.lanes))
}
