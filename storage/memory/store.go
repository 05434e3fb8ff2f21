package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// LockWait bounds how long a call waits for the store's lock held by
	// an open transaction; default 5s.
	LockWait time.Duration
	// Retry bounds the re-runs of transactions that fail with a retryable
	// error; default storage.DefaultRetryPolicy().
	Retry *storage.RetryPolicy
	// Clock stamps records; default storage.SystemClock.
	Clock storage.Clock
}

// Validate reports every problem with o.
func (o Options) Validate() error {
	var errs []error
	if o.LockWait < 0 {
		errs = append(errs, errors.New("memory: LockWait must not be negative"))
	}
	if o.Retry != nil && o.Retry.MaxAttempts < 0 {
		errs = append(errs, errors.New("memory: Retry.MaxAttempts must not be negative"))
	}
	return errors.Join(errs...)
}

// Store is the in-memory adapter. It is safe for concurrent use. Create it
// with New.
type Store struct {
	// The store's lock, held by a transaction for its duration (see
	// acquire): taken by compare-and-swap on locked; waiters spin for it a
	// while, then park on wake, and those waiting long on handed as well.
	locked   atomic.Bool
	waiters  atomic.Int32
	starving atomic.Int32  // waiters that have waited longer than starveAfter
	spinners atomic.Int32  // goroutines spinning for the lock (see spin)
	wake     chan struct{} // one slot: a release's signal to a parked waiter
	handed   chan struct{} // unbuffered: release hands the lock to a starving waiter
	wait     time.Duration
	timers   sync.Pool // of *time.Timer, for waits on the lock
	retry    storage.RetryPolicy
	clock    storage.Clock

	core   coreState
	ledger ledgerState
	risk   riskState   // rules/risk: velocity buckets and deny lists (risk.go)
	coupon couponState // package coupon: templates, coupons, audit (coupon.go)
	reward rewardState // package reward: campaigns, events, progress, grants (reward.go)

	settlement settlementState // package settlement: orders, clearing entries, statements (settlement.go)
}

// New returns an empty Store.
func New(opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Store{wake: make(chan struct{}, 1), handed: make(chan struct{}), wait: opts.LockWait, retry: storage.DefaultRetryPolicy(), clock: opts.Clock}
	if s.wait == 0 {
		s.wait = 5 * time.Second
	}
	if opts.Retry != nil {
		s.retry = *opts.Retry
	}
	if s.clock == nil {
		s.clock = storage.SystemClock{}
	}
	s.core.init()
	s.ledger.init()
	s.coupon.init()
	s.reward.init()
	s.settlement.init()
	return s, nil
}

// MustNew is New for the zero Options, which cannot fail.
func MustNew() *Store {
	s, err := New(Options{})
	if err != nil {
		panic(err)
	}
	return s
}

var _ storage.Transactor = (*Store)(nil)

// InTx runs fn atomically; see storage.Transactor. It returns fn's error,
// storage.ErrRollbackOnly when a nested unit failed, or
// storage.ErrLockTimeout / ctx's error when the lock could not be taken.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return storage.RunInTx(ctx, s, s.retry, s.begin, fn)
}

// starveAfter is how long a goroutine waits for the lock before release
// hands the lock to it rather than freeing it for anyone to take.
const starveAfter = time.Millisecond

// spinFor is how long acquire spins for a held lock before it parks.
// A transaction of a checkout holds the lock for a few microseconds,
// while a parked goroutine can take far longer to run again: on the
// virtual machines we measure on, a goroutine woken for a processor
// that had gone idle waits 100-250µs for it (the virtual CPU sleeps and
// is woken by the host), and the lock's holder runs on alone meanwhile.
// Spinning keeps the waiter's processor awake; it is bounded so that a
// long transaction costs a spinner no more than a fraction of a
// millisecond of CPU.
const spinFor = 100 * time.Microsecond

// acquire takes the store's lock, waiting up to s.wait for it.
//
// A goroutine that finds the lock held first spins for it (see spin),
// then parks. The lock is not handed over to the next waiter as a rule:
// release frees it and wakes one, which then competes for it. A parked
// goroutine takes a while to run again once woken (see spinFor), and
// with a handover the lock would sit idle for that time while the
// goroutine that released it, often about to take it again (a checkout's
// next step), waited too; a free lock goes to whoever runs first. So that
// a waiter cannot keep losing, one that has waited starveAfter is handed
// the lock by the next release instead (as sync.Mutex's starvation mode).
func (s *Store) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.starving.Load() == 0 && s.locked.CompareAndSwap(false, true) {
		return nil
	}
	if s.spin() {
		return nil
	}
	// Counted as a waiter before trying again: a release that comes after
	// the count sees it and signals; one that came before left the lock
	// free for the try below (or a starving waiter is counted, and so was
	// signalled).
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	if s.starving.Load() == 0 && s.locked.CompareAndSwap(false, true) {
		return nil
	}
	// Waiting is common when goroutines share the store: the timers are
	// reused (a stopped timer delivers nothing stale since Go 1.23).
	t, _ := s.timers.Get().(*time.Timer)
	if t == nil {
		t = time.NewTimer(s.wait)
	} else {
		t.Reset(s.wait)
	}
	start := time.Now()
	var handed chan struct{} // s.handed once starving
	defer func() {
		t.Stop()
		s.timers.Put(t)
		if handed != nil {
			s.starving.Add(-1)
		}
	}()
	for {
		select {
		case <-s.wake:
		case <-handed:
			return nil // release left the lock held, for this goroutine
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("%w: memory store lock not free after %s (a call with a context from outside an open transaction?)", storage.ErrLockTimeout, s.wait)
		}
		if s.locked.CompareAndSwap(false, true) {
			return nil
		}
		if handed == nil && time.Since(start) >= starveAfter {
			handed = s.handed
			s.starving.Add(1)
		}
	}
}

// spin tries to take the lock for up to spinFor without parking, and
// reports whether it did (see spinTry).
func (s *Store) spin() bool {
	return spinTry(&s.spinners, func() bool {
		return !s.locked.Load() && s.starving.Load() == 0 && s.locked.CompareAndSwap(false, true)
	})
}

// spinTry calls try until it succeeds, for up to spinFor, and reports
// whether it did. At most GOMAXPROCS-1 goroutines spin at once on one
// lock (spinners counts them), so that spinners never take every
// processor from the lock's holder; with one processor nobody spins. A
// spinner yields its processor now and then, to goroutines queued on it
// (the holder among them, perhaps).
func spinTry(spinners *atomic.Int32, try func() bool) bool {
	if n := spinners.Add(1); int(n) >= runtime.GOMAXPROCS(0) {
		spinners.Add(-1)
		return false
	}
	defer spinners.Add(-1)
	var start time.Time
	for i := 1; ; i++ {
		if try() {
			return true
		}
		if i%spinCheck == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) >= spinFor {
				return false
			}
			runtime.Gosched()
		}
	}
}

// spinCheck is how many tries of a lock a spinner makes between looks
// at the clock (and yields of its processor).
const spinCheck = 64

// spinMutex is a sync.Mutex whose Lock spins for it (spinTry) before it
// parks, for short sections that goroutines outside the store's lock
// run at the same time (see orderTables).
type spinMutex struct {
	mu       sync.Mutex
	spinners atomic.Int32
}

func (m *spinMutex) Lock() {
	if !m.mu.TryLock() && !spinTry(&m.spinners, m.mu.TryLock) {
		m.mu.Lock()
	}
}

func (m *spinMutex) Unlock() { m.mu.Unlock() }

// release frees the lock and, when a goroutine waits for it, wakes one;
// to a starving waiter parked for it, it hands the lock instead. A signal
// already pending (its waiter has not run yet, or took the lock without
// it) serves as well as a new one: whoever reads it tries again, so a
// waiter at worst wakes for nothing and parks again.
func (s *Store) release() {
	if s.starving.Load() > 0 {
		select {
		case s.handed <- struct{}{}: // still locked: now the receiver's
			return
		default: // no starving waiter is parked just now
		}
	}
	s.locked.Store(false)
	if s.waiters.Load() > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// txn is an open memory transaction: the lock plus an undo log.
type txn struct {
	s    *Store
	undo []undoEntry
}

// maxSpareUndo bounds the capacity of an undo log kept for the next
// transaction: a rare huge one should not pin its log for good.
const maxSpareUndo = 1024

// undoKind names a core undo step kept as data rather than as a closure,
// so that the hot paths (outbox appends, idempotency claims) allocate
// nothing for their undo.
type undoKind uint8

const (
	undoFunc      undoKind = iota // run fn
	undoOutbox                    // pop the last row of outbox partition part
	undoIdemClaim                 // delete the idempotency record idem
	undoIdemReset                 // set idem's result back to nil
	undoStep                      // run step.undo
)

// undoer is a write's undo kept in a struct of its own; a pointer to it
// goes into the log without the allocation of a method value.
type undoer interface{ undo() }

// undoEntry is one step of an undo log.
type undoEntry struct {
	fn   func()
	step undoer
	part int32 // undoOutbox: the partition
	row  int32 // undoIdemReset: the record
	kind undoKind
}

// begin opens a transaction for InTx. Its undo log is the one the last
// transaction left (only one is open at a time: the lock), so a
// transaction allocates only its small txn, and a log that grew once
// need not grow again.
func (s *Store) begin(ctx context.Context) (storage.TxHandle, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	t := &txn{s: s, undo: s.core.undoLog[:0]}
	s.core.undoLog = nil
	return t, nil
}

func (t *txn) Commit() error {
	t.reset()
	t.end()
	return nil
}

func (t *txn) Rollback() error {
	t.rollbackTo(0)
	t.end()
	return nil
}

// end hands t's undo log back to the store and releases the lock. t
// keeps no log: a call that (wrongly) still used t would not write into
// the next transaction's.
func (t *txn) end() {
	if cap(t.undo) <= maxSpareUndo {
		t.s.core.undoLog = t.undo[:0]
	}
	t.undo = nil
	t.s.release()
}

// reset empties the undo log, dropping the references it held.
func (t *txn) reset() {
	clear(t.undo)
	t.undo = t.undo[:0]
}

// rollbackTo runs the undo log back to its length mark, last step first,
// and truncates it there.
func (t *txn) rollbackTo(mark int) {
	for i := len(t.undo) - 1; i >= mark; i-- {
		t.s.runUndo(&t.undo[i])
	}
	clear(t.undo[mark:])
	t.undo = t.undo[:mark]
}

// onUndo records how to take back a write.
func (t *txn) onUndo(f func()) { t.undo = append(t.undo, undoEntry{fn: f}) }

// onUndoer records u's undo.
func (t *txn) onUndoer(u undoer) { t.undo = append(t.undo, undoEntry{kind: undoStep, step: u}) }

// onUndoStep records a core undo step kept as data.
func (t *txn) onUndoStep(e undoEntry) { t.undo = append(t.undo, e) }

// do runs op inside the transaction in ctx, or, when there is none, in a
// transaction of its own. Every store method goes through it. Like one SQL
// statement, a failing op takes back its own writes and leaves the rest of
// the transaction alone (a not-found read is no reason to roll back).
func (s *Store) do(ctx context.Context, op func(t *txn) error) error {
	if tx, ok := storage.CurrentTx(ctx, s); ok {
		t := tx.Handle().(*txn)
		mark := len(t.undo)
		if err := op(t); err != nil {
			t.rollbackTo(mark)
			return err
		}
		return nil
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	// The lock is ours and this transaction is never put in a context:
	// reuse the store's spare undo log.
	t := s.core.spare
	if t == nil {
		t = &txn{s: s}
		s.core.spare = t
	}
	done := false
	defer func() {
		if !done { // op panicked: take back its writes and free the lock, as InTx does
			t.rollbackTo(0)
			s.release()
		}
	}()
	err := op(t)
	done = true
	if err != nil {
		t.rollbackTo(0)
	} else {
		t.reset()
	}
	if cap(t.undo) > maxSpareUndo {
		t.undo = nil
	}
	s.release()
	return err
}

// Clock returns the store's clock.
func (s *Store) Clock() storage.Clock { return s.clock }

// insertNew puts v into m at k unless k is taken (storage.ErrDuplicate,
// naming what), and records the undo in t: the shape of every "create"
// of a memory domain store.
func insertNew[K comparable, V any](t *txn, m map[K]V, k K, v V, what string) error {
	if _, ok := m[k]; ok {
		return fmt.Errorf("%w: %s", storage.ErrDuplicate, what)
	}
	m[k] = v
	t.onUndo(func() { delete(m, k) })
	return nil
}

// slabChunk is the number of records in one chunk of a slab.
const slabChunk = 256

// slab is an append-only sequence of records kept in fixed-size chunks,
// so that growing it never copies what it holds. The record types kept in
// slabs hold no pointers (the exceptions: idemState.results, a slab of
// slices, and couponState.rows, of coupons): the garbage collector then
// never scans the chunks, however many records they keep. Records are
// addressed by int32 index; a rollback truncates.
type slab[T any] struct {
	chunks []*[slabChunk]T
	n      int
}

func (s *slab[T]) len() int { return s.n }

func (s *slab[T]) at(i int32) *T { return &s.chunks[i/slabChunk][i%slabChunk] }

// push appends v and returns its index.
func (s *slab[T]) push(v T) int32 {
	c := s.n / slabChunk
	if c == len(s.chunks) {
		s.chunks = append(s.chunks, new([slabChunk]T))
	}
	s.chunks[c][s.n%slabChunk] = v
	s.n++
	return int32(s.n - 1)
}

// truncate drops the records from index n on, zeroing them (so that a
// dropped record holds on to nothing); their chunks stay for reuse.
func (s *slab[T]) truncate(n int) {
	var zero T
	for i := n; i < s.n; i++ {
		*s.at(int32(i)) = zero
	}
	s.n = n
}

// hash32 is the hash of s that the store's indexes of strings are keyed
// by, so that their maps hold no pointers (the collector skips them, and
// growing them rehashes integers). 32 bits keep the maps small; strings
// that share a hash are told apart by comparing them.
func hash32(seed maphash.Seed, s string) uint32 { return uint32(maphash.String(seed, s)) }

// memTime is a time.Time without pointers, for records kept in slabs:
// Unix seconds and nanoseconds, and one more than the index of its
// location in a locations list (0: the zero time). It reads back Equal to
// what was stored, in the same location, without a monotonic reading.
type memTime struct {
	sec  int64
	nsec int32
	loc  int32
}

// locations lists the time locations of stored memTimes, usually one or
// two (UTC, Local). A location added is kept on rollback: it names
// nothing by itself.
type locations []*time.Location

func (ls *locations) pack(t time.Time) memTime {
	if t.IsZero() {
		return memTime{}
	}
	loc := t.Location()
	i := slices.Index(*ls, loc)
	if i < 0 {
		i = len(*ls)
		*ls = append(*ls, loc)
	}
	return memTime{t.Unix(), int32(t.Nanosecond()), int32(i + 1)}
}

func (ls locations) unpack(m memTime) time.Time {
	if m.loc == 0 {
		return time.Time{}
	}
	return time.Unix(m.sec, int64(m.nsec)).In(ls[m.loc-1])
}

// after reports whether m is after t, as time.Time.After on wall clocks.
func (m memTime) after(t time.Time) bool {
	sec := t.Unix()
	return m.sec > sec || (m.sec == sec && int64(m.nsec) > int64(t.Nanosecond()))
}

// interner numbers values that repeat across many records (tenants,
// topics, asset codes, outbox kinds), so that a record holds an index
// rather than a pointer. A value added is kept on rollback: it names
// nothing by itself.
type interner[K comparable] struct {
	index map[K]int32
	all   []K
	last  int32 // the index returned last, tried first: values come in runs
}

// names interns strings.
type names = interner[string]

func (n *interner[K]) of(k K) int32 {
	if int(n.last) < len(n.all) && n.all[n.last] == k {
		return n.last
	}
	i, ok := n.index[k]
	if !ok {
		if n.index == nil {
			n.index = make(map[K]int32)
		}
		i = int32(len(n.all))
		n.index[k] = i
		n.all = append(n.all, k)
	}
	n.last = i
	return i
}

// lookup returns the index of k, if it was interned.
func (n *interner[K]) lookup(k K) (int32, bool) {
	i, ok := n.index[k]
	return i, ok
}
