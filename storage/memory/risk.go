package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
)

var _ risk.Store = (*Store)(nil)

// riskState holds rules/risk's records. Its maps are made on first write.
type riskState struct {
	buckets map[bucketKey]bucketRow
	deny    map[denyKey]risk.Entry
}

// bucketKey finds a velocity bucket. Starts are kept to the microsecond,
// as the SQL adapters keep them.
type bucketKey struct {
	tenant storage.TenantID
	key    string
	start  int64 // unix microseconds
}

type bucketRow struct {
	count int64
	end   time.Time
}

type denyKey struct {
	tenant storage.TenantID
	list   risk.Subject
	value  string
}

// HitVelocity implements risk.Store.
func (s *Store) HitVelocity(ctx context.Context, tenant storage.TenantID, b risk.Bucket, limit int64) (int64, bool, error) {
	if err := validBucket(tenant, b); err != nil {
		return 0, false, err
	}
	if err := risk.ValidateLimit(limit); err != nil {
		return 0, false, err
	}
	var (
		count   int64
		allowed bool
	)
	err := s.do(ctx, func(t *txn) error {
		if s.risk.buckets == nil {
			s.risk.buckets = make(map[bucketKey]bucketRow)
		}
		k := bucketKey{tenant, b.Key, b.Start.UnixMicro()}
		old, existed := s.risk.buckets[k]
		if old.count >= limit {
			count = old.count
			return nil
		}
		next := bucketRow{count: old.count + 1, end: old.end}
		if !existed {
			next.end = b.End.UTC()
		}
		s.risk.buckets[k] = next
		t.onUndo(func() {
			if existed {
				s.risk.buckets[k] = old
			} else {
				delete(s.risk.buckets, k)
			}
		})
		count, allowed = next.count, true
		return nil
	})
	return count, allowed, err
}

// VelocityCount implements risk.Store.
func (s *Store) VelocityCount(ctx context.Context, tenant storage.TenantID, b risk.Bucket) (int64, error) {
	if err := validBucket(tenant, b); err != nil {
		return 0, err
	}
	var n int64
	err := s.do(ctx, func(*txn) error {
		n = s.risk.buckets[bucketKey{tenant, b.Key, b.Start.UnixMicro()}].count
		return nil
	})
	return n, err
}

func validBucket(tenant storage.TenantID, b risk.Bucket) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	return b.Validate()
}

// PutDenyEntry implements risk.Store.
func (s *Store) PutDenyEntry(ctx context.Context, tenant storage.TenantID, e risk.Entry) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	if !e.ExpiresAt.IsZero() {
		e.ExpiresAt = e.ExpiresAt.UTC()
	}
	return s.do(ctx, func(t *txn) error {
		if s.risk.deny == nil {
			s.risk.deny = make(map[denyKey]risk.Entry)
		}
		k := denyKey{tenant, e.List, e.Value}
		old, existed := s.risk.deny[k]
		s.risk.deny[k] = e
		t.onUndo(func() {
			if existed {
				s.risk.deny[k] = old
			} else {
				delete(s.risk.deny, k)
			}
		})
		return nil
	})
}

// DeleteDenyEntry implements risk.Store.
func (s *Store) DeleteDenyEntry(ctx context.Context, tenant storage.TenantID, list risk.Subject, value string) (bool, error) {
	if err := tenant.Validate(); err != nil {
		return false, err
	}
	if err := (risk.DenyKey{List: list, Value: value}).Validate(); err != nil {
		return false, err
	}
	var found bool
	err := s.do(ctx, func(t *txn) error {
		k := denyKey{tenant, list, value}
		old, ok := s.risk.deny[k]
		if !ok {
			return nil
		}
		delete(s.risk.deny, k)
		t.onUndo(func() { s.risk.deny[k] = old })
		found = true
		return nil
	})
	return found, err
}

// MatchDenyEntries implements risk.Store.
func (s *Store) MatchDenyEntries(ctx context.Context, tenant storage.TenantID, now time.Time, keys []risk.DenyKey) ([]risk.Entry, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := k.Validate(); err != nil {
			return nil, err
		}
	}
	var out []risk.Entry
	err := s.do(ctx, func(*txn) error {
		for i, k := range keys {
			e, ok := s.risk.deny[denyKey{tenant, k.List, k.Value}]
			if !ok || !e.ActiveAt(now) || seenKey(keys[:i], k) {
				continue
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func seenKey(keys []risk.DenyKey, k risk.DenyKey) bool {
	for _, o := range keys {
		if o == k {
			return true
		}
	}
	return false
}

// PruneRisk implements risk.Store.
func (s *Store) PruneRisk(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, fmt.Errorf("%w: prune needs a time", storage.ErrInvalidArgument)
	}
	var n int64
	err := s.do(ctx, func(t *txn) error {
		for k, r := range s.risk.buckets {
			if !r.end.After(before) {
				delete(s.risk.buckets, k)
				t.onUndo(func() { s.risk.buckets[k] = r })
				n++
			}
		}
		for k, e := range s.risk.deny {
			if !e.ExpiresAt.IsZero() && !e.ExpiresAt.After(before) {
				delete(s.risk.deny, k)
				t.onUndo(func() { s.risk.deny[k] = e })
				n++
			}
		}
		return nil
	})
	return n, err
}

// Risk returns the store as a risk.Store (what rules/risk.Config.Store
// takes).
func (s *Store) Risk() risk.Store { return s }
