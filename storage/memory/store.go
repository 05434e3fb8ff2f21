package memory

import (
	"context"
	"errors"
	"fmt"
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
	lock  chan struct{} // a one-slot semaphore: held by a transaction for its duration
	wait  time.Duration
	retry storage.RetryPolicy
	clock storage.Clock

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
	s := &Store{lock: make(chan struct{}, 1), wait: opts.LockWait, retry: storage.DefaultRetryPolicy(), clock: opts.Clock}
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

func (s *Store) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.lock <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%w: memory store lock not free after %s (a call with a context from outside an open transaction?)", storage.ErrLockTimeout, s.wait)
	}
}

func (s *Store) release() { <-s.lock }

// txn is an open memory transaction: the lock plus an undo log.
type txn struct {
	s    *Store
	undo []undoEntry
	buf  [4]undoEntry // the first entries, without a separate allocation
}

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
	idem *idemRow
	part int32
	kind undoKind
}

func (s *Store) begin(ctx context.Context) (storage.TxHandle, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	t := &txn{s: s}
	t.undo = t.buf[:0]
	return t, nil
}

func (t *txn) Commit() error {
	t.reset()
	t.s.release()
	return nil
}

func (t *txn) Rollback() error {
	t.rollbackTo(0)
	t.s.release()
	return nil
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
		t.undo = t.buf[:0]
		s.core.spare = t
	}
	err := op(t)
	if err != nil {
		t.rollbackTo(0)
	} else {
		t.reset()
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
