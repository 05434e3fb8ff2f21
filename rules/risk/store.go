package risk

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// Store keeps the state of risk controls: velocity counters and deny
// lists. The adapters in storage/memory and storage/sqlstore implement it;
// storage/storagetest.RunRisk checks them. Every method joins the
// transaction in ctx (storage.Transactor), and every write is one
// conditional statement, so that the controls hold across host instances
// sharing one database.
type Store interface {
	// HitVelocity counts one hit in the bucket if fewer than limit hits
	// are counted in it, as one conditional write. It returns the bucket's
	// count after the call and whether the hit was counted; a refused hit
	// changes nothing. However many callers race, a bucket never counts
	// more than limit hits. Errors: storage.ErrInvalidTenant,
	// ErrInvalidBucket (a bad bucket or a limit below one).
	HitVelocity(ctx context.Context, tenant storage.TenantID, b Bucket, limit int64) (count int64, allowed bool, err error)
	// VelocityCount returns the hits counted in the bucket (found by
	// tenant, key and start), zero when none. Errors:
	// storage.ErrInvalidTenant, ErrInvalidBucket.
	VelocityCount(ctx context.Context, tenant storage.TenantID, b Bucket) (int64, error)
	// PutDenyEntry adds e to the tenant's deny list, or replaces the
	// entry with the same list and value (its reason and times). Errors:
	// storage.ErrInvalidTenant, ErrInvalidEntry.
	PutDenyEntry(ctx context.Context, tenant storage.TenantID, e Entry) error
	// DeleteDenyEntry removes the entry and reports whether there was
	// one. Errors: storage.ErrInvalidTenant, ErrInvalidEntry.
	DeleteDenyEntry(ctx context.Context, tenant storage.TenantID, list Subject, value string) (bool, error)
	// MatchDenyEntries returns the tenant's entries among keys that are
	// in force at now (no expiry, or an expiry after now): at most one per
	// distinct key, in the order of the keys. Errors:
	// storage.ErrInvalidTenant, ErrInvalidEntry (a malformed key).
	MatchDenyEntries(ctx context.Context, tenant storage.TenantID, now time.Time, keys []DenyKey) ([]Entry, error)
	// PruneRisk deletes, in every tenant, the velocity buckets that ended
	// at or before before and the deny-list entries that expired at or
	// before before, and returns how many records it deleted. Errors:
	// storage.ErrInvalidArgument for a zero time.
	PruneRisk(ctx context.Context, before time.Time) (int64, error)
}

// MaxBucketKeyLen is the longest velocity bucket key a store accepts.
const MaxBucketKeyLen = 400

// Bucket is one fixed window of one velocity counter. A store finds it by
// tenant, Key and Start; End tells when it may be pruned.
type Bucket struct {
	Key   string    // the policy and the subject, built by the engine
	Start time.Time // the window's start (inclusive)
	End   time.Time // the window's end (exclusive)
}

// Validate reports ErrInvalidBucket (which also matches
// storage.ErrInvalidArgument) for an empty or long key or an End not after
// Start.
func (b Bucket) Validate() error {
	if b.Key == "" || len(b.Key) > MaxBucketKeyLen {
		return fmt.Errorf("%w: %w: key must have 1 to %d bytes", ErrInvalidBucket, storage.ErrInvalidArgument, MaxBucketKeyLen)
	}
	if !b.End.After(b.Start) {
		return fmt.Errorf("%w: %w: end %s is not after start %s", ErrInvalidBucket, storage.ErrInvalidArgument,
			b.End.Format(time.RFC3339Nano), b.Start.Format(time.RFC3339Nano))
	}
	return nil
}

// ValidateLimit reports ErrInvalidBucket (and storage.ErrInvalidArgument)
// for a limit below one. Stores call it in HitVelocity.
func ValidateLimit(limit int64) error {
	if limit < 1 {
		return fmt.Errorf("%w: %w: limit %d is below 1", ErrInvalidBucket, storage.ErrInvalidArgument, limit)
	}
	return nil
}

// DenyKey names one value on one deny list.
type DenyKey struct {
	List  Subject
	Value string
}

// Validate reports ErrInvalidEntry (and storage.ErrInvalidArgument) for an
// unknown list or a value that is empty or longer than MaxValueLen.
func (k DenyKey) Validate() error {
	if !k.List.Valid() {
		return fmt.Errorf("%w: %w: unknown list %q", ErrInvalidEntry, storage.ErrInvalidArgument, string(k.List))
	}
	if k.Value == "" || len(k.Value) > MaxValueLen {
		return fmt.Errorf("%w: %w: %s value must have 1 to %d bytes", ErrInvalidEntry, storage.ErrInvalidArgument, k.List, MaxValueLen)
	}
	return nil
}

// Entry is one value on a tenant's deny list: a phone number, a device ID,
// a user ID, an IP or a merchant that may not act.
type Entry struct {
	List      Subject
	Value     string
	Reason    string    // why it is listed, for reviewers
	CreatedAt time.Time // set by the engine when zero
	ExpiresAt time.Time // zero: never expires
}

// Key returns the entry's list and value.
func (e Entry) Key() DenyKey { return DenyKey{List: e.List, Value: e.Value} }

// ActiveAt reports whether the entry is in force at now: it never expires
// or expires after now.
func (e Entry) ActiveAt(now time.Time) bool { return e.ExpiresAt.IsZero() || e.ExpiresAt.After(now) }

// Validate reports ErrInvalidEntry (and storage.ErrInvalidArgument) for a
// bad list or value, a reason longer than MaxReasonLen, a missing
// CreatedAt, or an ExpiresAt that is set but not after CreatedAt.
func (e Entry) Validate() error {
	if err := e.Key().Validate(); err != nil {
		return err
	}
	if len(e.Reason) > MaxReasonLen {
		return fmt.Errorf("%w: %w: reason is longer than %d bytes", ErrInvalidEntry, storage.ErrInvalidArgument, MaxReasonLen)
	}
	if e.CreatedAt.IsZero() {
		return fmt.Errorf("%w: %w: no creation time", ErrInvalidEntry, storage.ErrInvalidArgument)
	}
	if !e.ExpiresAt.IsZero() && !e.ExpiresAt.After(e.CreatedAt) {
		return fmt.Errorf("%w: %w: expiry %s is not after creation %s", ErrInvalidEntry, storage.ErrInvalidArgument,
			e.ExpiresAt.Format(time.RFC3339), e.CreatedAt.Format(time.RFC3339))
	}
	return nil
}
