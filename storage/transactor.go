package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Transactor runs a unit of work atomically.
//
// InTx calls fn with a context that carries the open transaction: every
// store call made with that context (or one derived from it) joins it. A
// nested InTx joins the outer transaction; if its fn fails, the whole
// transaction is marked rollback-only, so it rolls back even when a caller
// swallows the error (the outermost InTx then returns an error wrapping
// ErrRollbackOnly and the cause). When the transaction fails with a
// retryable error (IsRetryable), the outermost InTx rolls back and re-runs
// fn from the start, a bounded number of times, so fn must not have side
// effects outside the transaction.
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// RetryPolicy bounds how often a transaction that failed with a retryable
// error is re-run, with jittered exponential backoff between attempts.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, including the first; < 1 means 1
	BaseDelay   time.Duration // delay before the second attempt
	MaxDelay    time.Duration // upper bound of any one delay
}

// DefaultRetryPolicy is what adapters use unless configured otherwise:
// up to 8 attempts, starting at 1ms and capped at 50ms.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 8, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}
}

func (p RetryPolicy) delay(attempt int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1) // jitter keeps contending retries apart
}

// TxHandle is an adapter's open transaction, as seen by RunInTx.
type TxHandle interface {
	Commit() error
	Rollback() error
}

// Tx is the open transaction that RunInTx puts into the context. Adapters
// fetch it with CurrentTx and reach their own handle through Handle.
type Tx struct {
	handle TxHandle
	host   bool // handed in by the host: never committed or rolled back here

	mu    sync.Mutex
	cause error // first error that marked the transaction rollback-only
}

// Handle returns the adapter's transaction.
func (t *Tx) Handle() TxHandle { return t.handle }

// MarkRollbackOnly makes the transaction roll back at its end, whatever
// the outermost function returns. The first cause is kept.
func (t *Tx) MarkRollbackOnly(cause error) {
	if cause == nil {
		cause = errors.New("marked rollback-only")
	}
	t.mu.Lock()
	if t.cause == nil {
		t.cause = cause
	}
	t.mu.Unlock()
}

// RollbackOnly returns the cause that marked the transaction rollback-only,
// or nil.
func (t *Tx) RollbackOnly() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cause
}

// CurrentTx returns the transaction that owner (an adapter instance, used as
// the identity of its database) opened in ctx, if any. Transactions of other
// store instances in the same context are not returned.
//
// owner must be a pointer (an adapter's *Store): it is the context key
// itself, which costs no allocation on the hot path of every store call.
func CurrentTx(ctx context.Context, owner any) (*Tx, bool) {
	t, ok := ctx.Value(owner).(*Tx)
	return t, ok
}

// WithHostTx returns a context in which owner's store calls and InTx join a
// transaction the host opened. RunInTx never commits or rolls it back; a
// failure inside marks it rollback-only, which the host can read with
// CurrentTx(ctx, owner).RollbackOnly(), and is returned to the host
// unretried.
func WithHostTx(ctx context.Context, owner any, h TxHandle) context.Context {
	return context.WithValue(ctx, owner, &Tx{handle: h, host: true})
}

// RunInTx implements the Transactor contract for an adapter. owner is the
// adapter instance, begin opens a transaction. Nested calls (ctx already
// holds owner's transaction) join it. A panic in fn rolls back and
// propagates.
func RunInTx(ctx context.Context, owner any, policy RetryPolicy, begin func(context.Context) (TxHandle, error), fn func(context.Context) error) error {
	if t, ok := CurrentTx(ctx, owner); ok {
		if err := fn(ctx); err != nil {
			t.MarkRollbackOnly(err)
			return err
		}
		return nil
	}
	attempts := max(policy.MaxAttempts, 1)
	var err error
	for attempt := 1; ; attempt++ {
		err = runOnce(ctx, owner, begin, fn)
		if err == nil || !IsRetryable(err) || attempt >= attempts || ctx.Err() != nil {
			return err
		}
		timer := time.NewTimer(policy.delay(attempt))
		select {
		case <-ctx.Done():
			timer.Stop()
			return errors.Join(err, ctx.Err())
		case <-timer.C:
		}
	}
}

func runOnce(ctx context.Context, owner any, begin func(context.Context) (TxHandle, error), fn func(context.Context) error) (err error) {
	h, err := begin(ctx)
	if err != nil {
		return err
	}
	tc := &txContext{Context: ctx, owner: owner}
	t := &tc.tx
	t.handle = h
	done := false
	defer func() {
		if !done { // fn panicked
			_ = h.Rollback()
		}
	}()
	ferr := fn(tc)
	done = true
	if ferr != nil {
		if rerr := h.Rollback(); rerr != nil {
			return errors.Join(ferr, rerr)
		}
		return ferr
	}
	if cause := t.RollbackOnly(); cause != nil {
		if rerr := h.Rollback(); rerr != nil {
			return errors.Join(fmt.Errorf("%w: %w", ErrRollbackOnly, cause), rerr)
		}
		return fmt.Errorf("%w: %w", ErrRollbackOnly, cause)
	}
	return h.Commit()
}

// txContext is the context of an open transaction: ctx with the Tx as
// the value of its owner, as context.WithValue(ctx, owner, &tx) would
// make it, but with the Tx inside, so that a transaction costs one
// allocation for both rather than two.
type txContext struct {
	context.Context
	owner any
	tx    Tx
}

// Value returns the Tx for its owner and asks the parent for other keys.
func (c *txContext) Value(key any) any {
	if key == c.owner {
		return &c.tx
	}
	return c.Context.Value(key)
}
