package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/rewardkit/rewardkit/storage"
)

// txHandle is the store's open transaction as storage.RunInTx sees it.
type txHandle struct {
	tx *sql.Tx
}

// Commit commits, mapping a serialization failure found at commit time
// (PostgreSQL SERIALIZABLE) to storage.ErrSerialization.
func (h *txHandle) Commit() error { return wrap("commit", h.tx.Commit()) }

// Rollback rolls back; rolling back a finished transaction is not an error.
func (h *txHandle) Rollback() error {
	if err := h.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return wrap("rollback", err)
	}
	return nil
}

// InTx runs fn in one transaction; see storage.Transactor for the
// contract. Every method of s called with the ctx handed to fn (or one
// derived from it) joins the transaction; a nested InTx joins it too.
// Errors: fn's error; storage.ErrRollbackOnly when a nested unit failed;
// a failure to begin or commit, mapped like every driver error (see the
// package doc). Retryable failures re-run fn up to Options.Retry.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return storage.RunInTx(ctx, s, s.opts.Retry, s.begin, fn)
}

func (s *Store) begin(ctx context.Context) (storage.TxHandle, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap("begin", err)
	}
	return &txHandle{tx: tx}, nil
}

// WithTx returns a context in which the store's methods and InTx join tx,
// a transaction the host opened on the same database (and, for the
// tables to be seen, the same schema). The host commits or rolls tx back;
// the store never does. When a store call or a nested InTx fails inside,
// the transaction is marked rollback-only: read it with RollbackOnly.
func (s *Store) WithTx(ctx context.Context, tx *sql.Tx) context.Context {
	return storage.WithHostTx(ctx, s, &txHandle{tx: tx})
}

// Tx returns the *sql.Tx that ctx carries for this store (opened by InTx or
// handed in with WithTx), so that a host can write its own rows in the
// same transaction.
func (s *Store) Tx(ctx context.Context) (*sql.Tx, bool) {
	t, ok := storage.CurrentTx(ctx, s)
	if !ok {
		return nil, false
	}
	h, ok := t.Handle().(*txHandle)
	if !ok {
		return nil, false
	}
	return h.tx, true
}

// RollbackOnly returns the cause that marked the transaction in ctx
// rollback-only, or nil (also when ctx holds no transaction of s). A host
// that handed in its transaction with WithTx must roll back when it is not
// nil.
func (s *Store) RollbackOnly(ctx context.Context) error {
	if t, ok := storage.CurrentTx(ctx, s); ok {
		return t.RollbackOnly()
	}
	return nil
}

// write runs fn on the transaction in ctx, or in a short transaction of its
// own (retried like InTx) when ctx holds none. A database error inside a
// joined transaction marks it rollback-only: PostgreSQL has aborted it
// anyway, and SQLite must not commit half of the work either. Errors that
// fn returns without touching the database (storage.ErrNotFound, ...) do
// not.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, q querier) error) error {
	if t, ok := storage.CurrentTx(ctx, s); ok {
		err := fn(ctx, t.Handle().(*txHandle).tx)
		var de *dbError
		if errors.As(err, &de) {
			t.MarkRollbackOnly(err)
		}
		return unwrapDB(err)
	}
	err := s.InTx(ctx, func(ctx context.Context) error {
		t, _ := storage.CurrentTx(ctx, s)
		return fn(ctx, t.Handle().(*txHandle).tx)
	})
	return unwrapDB(err)
}

// reader returns where a read-only statement runs: the transaction in ctx,
// or the readers' pool.
func (s *Store) reader(ctx context.Context) querier {
	if t, ok := storage.CurrentTx(ctx, s); ok {
		return t.Handle().(*txHandle).tx
	}
	return s.read
}

// dbError marks an error that came from the database inside write's fn.
type dbError struct{ err error }

func (e *dbError) Error() string { return e.err.Error() }
func (e *dbError) Unwrap() error { return e.err }

// dbErr wraps a driver error for write: mapped, prefixed with op and
// marked as coming from the database.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &dbError{err: wrap(op, err)}
}

// unwrapDB strips the dbError marker so callers see the plain chain.
func unwrapDB(err error) error {
	var de *dbError
	if errors.As(err, &de) && err == error(de) {
		return de.err
	}
	return err
}
