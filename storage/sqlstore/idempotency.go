package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rewardkit/rewardkit/storage"
)

type idempotencyQueries struct {
	claim, get, complete string
}

func buildIdempotencyQueries(d Dialect, table string) idempotencyQueries {
	return idempotencyQueries{
		claim: d.rebind(d.insertIgnore(table,
			[]string{"tenant", "operation", "idem_key", "fingerprint", "result", "created_at"},
			[]string{"tenant", "operation", "idem_key"})),
		get: d.rebind("SELECT fingerprint, result, created_at FROM " + table +
			" WHERE tenant = ? AND operation = ? AND idem_key = ?"),
		complete: d.rebind("UPDATE " + table + " SET result = ? WHERE tenant = ? AND operation = ? AND idem_key = ?"),
	}
}

func validIdemKey(tenant storage.TenantID, operation, key string) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	if operation == "" || key == "" || len(key) > storage.MaxKeyLen {
		return fmt.Errorf("%w: idempotency needs an operation and a key of 1 to %d bytes", storage.ErrInvalidArgument, storage.MaxKeyLen)
	}
	return nil
}

// ClaimIdempotencyKey inserts rec unless a record with its tenant,
// operation and key exists, and returns nil when it did, or the existing
// record. The insert is "ON CONFLICT DO NOTHING" judged by rows affected,
// so a taken key never aborts the surrounding transaction; a concurrent
// claim of the same key waits for the first to commit or roll back. A zero
// rec.CreatedAt is stamped with the store's clock. Errors:
// storage.ErrInvalidTenant, storage.ErrInvalidArgument (empty operation or
// key, key longer than storage.MaxKeyLen, empty fingerprint), mapped
// database errors.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, rec storage.IdempotencyRecord) (*storage.IdempotencyRecord, error) {
	if err := validIdemKey(rec.Tenant, rec.Operation, rec.Key); err != nil {
		return nil, err
	}
	if rec.Fingerprint == "" {
		return nil, fmt.Errorf("%w: idempotency record without fingerprint", storage.ErrInvalidArgument)
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = s.opts.Clock.Now()
	}
	var prior *storage.IdempotencyRecord
	err := s.write(ctx, "claim idempotency key", func(ctx context.Context, q querier) error {
		prior = nil
		res, err := q.ExecContext(ctx, s.q.idem.claim, string(rec.Tenant), rec.Operation, rec.Key,
			rec.Fingerprint, nullBytes(rec.Result), s.dialect.timeArg(rec.CreatedAt))
		if err != nil {
			return dbErr("claim idempotency key", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("claim idempotency key", err)
		}
		if n == 1 {
			return nil
		}
		got := storage.IdempotencyRecord{Tenant: rec.Tenant, Operation: rec.Operation, Key: rec.Key}
		var created dbTime
		err = q.QueryRowContext(ctx, s.q.idem.get, string(rec.Tenant), rec.Operation, rec.Key).
			Scan(&got.Fingerprint, &got.Result, &created)
		if errors.Is(err, sql.ErrNoRows) {
			// Only a concurrent delete could do this; nothing deletes claims.
			return fmt.Errorf("sqlstore: claim idempotency key: %w: key vanished", storage.ErrConflict)
		}
		if err != nil {
			return dbErr("read idempotency key", err)
		}
		got.CreatedAt = created.Time
		prior = &got
		return nil
	})
	if err != nil {
		return nil, err
	}
	return prior, nil
}

// CompleteIdempotencyKey stores result for a claimed key. Errors:
// storage.ErrNotFound when the key was not claimed (in this tenant),
// storage.ErrInvalidTenant, storage.ErrInvalidArgument, mapped database
// errors.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, tenant storage.TenantID, operation, key string, result []byte) error {
	if err := validIdemKey(tenant, operation, key); err != nil {
		return err
	}
	if result == nil {
		result = []byte{}
	}
	return s.write(ctx, "complete idempotency key", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, s.q.idem.complete, result, string(tenant), operation, key)
		if err != nil {
			return dbErr("complete idempotency key", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("complete idempotency key", err)
		}
		if n == 0 {
			return fmt.Errorf("sqlstore: complete idempotency key %s/%s/%q: %w", tenant, operation, key, storage.ErrNotFound)
		}
		return nil
	})
}
