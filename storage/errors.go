package storage

import (
	"errors"
)

// Sentinel errors shared by every adapter. Adapters wrap them with context;
// test with errors.Is.
var (
	// ErrNotFound: the record does not exist (in this tenant).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: an optimistic concurrency check failed (a version moved
	// or a conditional update matched nothing because another writer got
	// there first). Re-reading and retrying may succeed.
	ErrConflict = errors.New("storage: conflict")
	// ErrDuplicate: a record with the same unique key already exists.
	ErrDuplicate = errors.New("storage: duplicate")
	// ErrIdempotencyMismatch: an idempotency key was reused with a payload
	// other than the one it was first used with.
	ErrIdempotencyMismatch = errors.New("storage: idempotency key reused with a different payload")
	// ErrRollbackOnly: the transaction was marked rollback-only because a
	// nested unit of work failed, and so it was rolled back even though the
	// outermost function returned nil.
	ErrRollbackOnly = errors.New("storage: transaction is rollback-only")
	// ErrSerialization: the database aborted the transaction to keep it
	// serializable (PostgreSQL 40001), found a deadlock (40P01) or was busy
	// (SQLite). Re-running the whole transaction may succeed.
	ErrSerialization = errors.New("storage: serialization failure")
	// ErrLockTimeout: waiting for a lock took longer than allowed, for
	// example a call made with a context from outside an open transaction
	// while that transaction holds what the call needs.
	ErrLockTimeout = errors.New("storage: lock wait timed out")
	// ErrInvalidTenant: the tenant ID is empty or malformed.
	ErrInvalidTenant = errors.New("storage: invalid tenant")
	// ErrInvalidArgument: a storage call got input it cannot accept.
	ErrInvalidArgument = errors.New("storage: invalid argument")
)

// IsRetryable reports whether re-running the whole transaction may succeed:
// serialization failures, deadlocks, busy databases and optimistic
// concurrency conflicts. Transactor implementations use it to decide whether
// to re-run fn; callers that run their own transactions can too.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrSerialization) || errors.Is(err, ErrConflict)
}
