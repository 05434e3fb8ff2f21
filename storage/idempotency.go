package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// IdempotencyRecord remembers one command run under a caller's key, scoped
// by tenant and operation: the fingerprint of its payload and its result.
type IdempotencyRecord struct {
	Tenant      TenantID
	Operation   string // e.g. "coupon.claim"
	Key         string // the caller's key: an event ID, a request ID
	Fingerprint string // Fingerprint of the payload
	Result      []byte // JSON of the first result; nil until completed
	CreatedAt   time.Time
}

// IdempotencyStore keeps idempotency records. Both methods join the
// transaction in ctx.
type IdempotencyStore interface {
	// ClaimIdempotencyKey inserts rec unless a record with the same tenant,
	// operation and key exists. It returns nil when this call claimed the
	// key, or the existing record. Concurrent claims of one key wait for
	// each other: exactly one claims it. On SQL databases it must not rely
	// on a failed insert (PostgreSQL aborts the transaction on any error).
	ClaimIdempotencyKey(ctx context.Context, rec IdempotencyRecord) (*IdempotencyRecord, error)
	// CompleteIdempotencyKey stores the result of a claimed key.
	// ErrNotFound when the key was not claimed. The caller hands result
	// over: the store may keep the slice itself rather than a copy, so
	// the caller must not change it afterwards.
	CompleteIdempotencyKey(ctx context.Context, tenant TenantID, operation, key string, result []byte) error
}

// MaxKeyLen is the longest idempotency key accepted.
const MaxKeyLen = 200

// JSONAppender is a value that writes its own JSON encoding. AppendJSON
// appends to b exactly the bytes json.Marshal writes for the value, without
// reflection. Fingerprint and Idempotent use it, when a payload or a result
// implements it, on hot paths where encoding/json costs more than the work
// itself; since the bytes are the same, a fingerprint does not depend on
// which encoder wrote it, and a stored result decodes with encoding/json.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// Fingerprint is the SHA-256 (hex) of the canonical JSON encoding of
// payload: struct fields in declaration order, map keys sorted, no
// insignificant white space. Two payloads that encode alike are the same.
// A payload that implements JSONAppender is encoded by its AppendJSON.
func Fingerprint(payload any) (string, error) {
	var b []byte
	var err error
	if a, ok := payload.(JSONAppender); ok {
		b, err = a.AppendJSON(nil)
	} else {
		b, err = json.Marshal(payload)
	}
	if err != nil {
		return "", fmt.Errorf("%w: fingerprint: %w", ErrInvalidArgument, err)
	}
	return FingerprintJSON(b), nil
}

// FingerprintJSON is the fingerprint of a payload already encoded as
// Fingerprint encodes it (canonical JSON), for callers that encode into
// a buffer of their own.
func FingerprintJSON(b []byte) string {
	sum := sha256.Sum256(b)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return string(h[:])
}

// Idempotent runs fn at most once per (tenant, operation, key) inside one
// transaction of tx, recording its JSON-encoded result with the claim
// (through AppendJSON when *R implements JSONAppender).
//
// The first call runs fn and stores its result in the same transaction, so
// a failed fn leaves no claim behind. A later call with the same key and an
// equal payload returns the stored result without running fn; with another
// payload it returns ErrIdempotencyMismatch. Calls racing on one key wait
// for the first to commit. When ctx already holds a transaction, Idempotent
// joins it: the claim commits or rolls back with the caller's work.
func Idempotent[R any](ctx context.Context, tx Transactor, store IdempotencyStore, clock Clock, tenant TenantID, operation, key string, payload any, fn func(ctx context.Context) (R, error)) (R, error) {
	var zero R
	if err := tenant.Validate(); err != nil {
		return zero, err
	}
	if operation == "" || key == "" || len(key) > MaxKeyLen {
		return zero, fmt.Errorf("%w: idempotency needs an operation and a key of 1 to %d bytes", ErrInvalidArgument, MaxKeyLen)
	}
	fp, err := Fingerprint(payload)
	if err != nil {
		return zero, err
	}
	var out R
	err = tx.InTx(ctx, func(ctx context.Context) error {
		rec := IdempotencyRecord{Tenant: tenant, Operation: operation, Key: key, Fingerprint: fp, CreatedAt: clock.Now()}
		prior, err := RunOnce(ctx, store, rec, func(ctx context.Context) ([]byte, error) {
			r, err := fn(ctx)
			if err != nil {
				return nil, err
			}
			// out lives on the heap already (this closure holds it):
			// asking &out for AppendJSON costs no copy of r.
			out = r
			var b []byte
			if a, ok := any(&out).(JSONAppender); ok {
				b, err = a.AppendJSON(nil)
			} else {
				b, err = json.Marshal(out)
			}
			if err != nil {
				return nil, fmt.Errorf("storage: encode idempotent result: %w", err)
			}
			return b, nil
		})
		if err != nil || prior == nil {
			return err
		}
		return json.Unmarshal(prior, &out)
	})
	if err != nil {
		return zero, err
	}
	return out, nil
}

// RunOnce is the claim protocol behind Idempotent, for callers that
// fingerprint their payload and encode their result themselves (a hot
// path that keeps its own buffers). It must run inside a transaction, so
// that a failed fn leaves no claim behind.
//
// It claims rec's key under rec.Fingerprint. The first claim runs fn and
// stores the bytes fn returns as the key's result (the store keeps them:
// fn hands over memory it does not reuse); RunOnce then returns nil. A
// later claim with the same fingerprint returns the stored result without
// running fn; with another fingerprint, ErrIdempotencyMismatch. Errors:
// also ErrConflict for a key claimed without a result, fn's error, the
// store's errors.
func RunOnce(ctx context.Context, store IdempotencyStore, rec IdempotencyRecord, fn func(ctx context.Context) ([]byte, error)) (prior []byte, err error) {
	old, err := store.ClaimIdempotencyKey(ctx, rec)
	if err != nil {
		return nil, err
	}
	if old != nil {
		if old.Fingerprint != rec.Fingerprint {
			return nil, fmt.Errorf("%w: %s key %q", ErrIdempotencyMismatch, rec.Operation, rec.Key)
		}
		if old.Result == nil {
			return nil, fmt.Errorf("%w: %s key %q is claimed but has no result", ErrConflict, rec.Operation, rec.Key)
		}
		return old.Result, nil
	}
	b, err := fn(ctx)
	if err != nil {
		return nil, err
	}
	return nil, store.CompleteIdempotencyKey(ctx, rec.Tenant, rec.Operation, rec.Key, b)
}
