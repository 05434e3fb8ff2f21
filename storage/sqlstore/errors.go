package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/rewardkit/rewardkit/storage"
)

// ErrInvalidOptions is returned by Options.Validate and the constructors
// for a configuration they cannot use.
var ErrInvalidOptions = errors.New("sqlstore: invalid options")

// PostgreSQL SQLSTATE codes the store maps onto storage sentinels.
const (
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgLockNotAvailable     = "55P03"
	pgUniqueViolation      = "23505"
)

// SQLite result codes (primary codes are the low byte of extended ones;
// the driver opens connections with extended codes on).
const (
	sqliteBusy               = 5
	sqliteLocked             = 6
	sqliteBusySnapshot       = 5 | 2<<8 // SQLITE_BUSY_SNAPSHOT
	sqliteConstraintPK       = 19 | 6<<8
	sqliteConstraintUnique   = 19 | 8<<8
	sqlitePrimaryCodeBitMask = 0xff
)

// mapErr translates a driver error into the storage sentinels, keeping the
// driver error in the chain for errors.As:
//
//   - PostgreSQL 40001 (serialization failure) and 40P01 (deadlock), and
//     SQLite SQLITE_LOCKED and SQLITE_BUSY_SNAPSHOT (a deferred transaction
//     whose snapshot went stale), become storage.ErrSerialization:
//     retryable, InTx re-runs the transaction.
//   - PostgreSQL 55P03 (lock_timeout) and SQLite SQLITE_BUSY after the busy
//     timeout become storage.ErrLockTimeout: not retried, since the usual
//     cause is a call made with a context from outside an open transaction
//     that waits for that very transaction, and re-running it would only
//     wait again.
//   - PostgreSQL 23505 and SQLite's unique and primary key constraint
//     failures become storage.ErrDuplicate.
//
// Other errors are returned as they are.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, storage.ErrSerialization) || errors.Is(err, storage.ErrLockTimeout) || errors.Is(err, storage.ErrDuplicate) {
		return err // already mapped
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgSerializationFailure, pgDeadlockDetected:
			return fmt.Errorf("%w: %w", storage.ErrSerialization, err)
		case pgLockNotAvailable:
			return fmt.Errorf("%w: %w", storage.ErrLockTimeout, err)
		case pgUniqueViolation:
			return fmt.Errorf("%w: %w", storage.ErrDuplicate, err)
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch {
		case code == sqliteBusySnapshot, code&sqlitePrimaryCodeBitMask == sqliteLocked:
			return fmt.Errorf("%w: %w", storage.ErrSerialization, err)
		case code&sqlitePrimaryCodeBitMask == sqliteBusy:
			return fmt.Errorf("%w: %w", storage.ErrLockTimeout, err)
		case code == sqliteConstraintPK, code == sqliteConstraintUnique:
			return fmt.Errorf("%w: %w", storage.ErrDuplicate, err)
		}
	}
	return err
}

// wrap maps err and prefixes the operation that failed.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlstore: %s: %w", op, mapErr(err))
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
