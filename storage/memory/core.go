package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

var (
	_ storage.IdempotencyStore = (*Store)(nil)
	_ storage.OutboxStore      = (*Store)(nil)
	_ storage.LeaseStore       = (*Store)(nil)
	_ storage.CounterStore     = (*Store)(nil)
)

type counterKey struct {
	tenant storage.TenantID
	key    string
}

// coreState holds the port's own records: idempotency records
// (idempotency.go), the outbox (outbox.go), counters and leases.
type coreState struct {
	idem     idemState
	counters map[counterKey]int64
	leases   map[string]storage.Lease
	outbox   [storage.OutboxPartitions]outboxPart
	outboxID int64
	eventIDs eventIndex
	// What outbox rows refer to: their event IDs, aggregate IDs and
	// payloads (text), their (tenant, topic, aggregate type), and the
	// locations of their times (shared with idempotency records).
	text    textArena
	kinds   interner[outboxKind]
	tenants names // the tenants of idempotency records
	locs    locations
	spare   *txn        // the undo log of do's own transactions, used under the lock only
	undoLog []undoEntry // the undo log of InTx's transactions while none is open, kept for its capacity
}

func (c *coreState) init() {
	c.idem = idemState{seed: maphash.MakeSeed(), heads: make(map[uint32]int32)}
	c.counters = make(map[counterKey]int64)
	c.leases = make(map[string]storage.Lease)
	c.eventIDs = eventIndex{seed: maphash.MakeSeed(), heads: make(map[uint32]outboxLoc)}
}

// runUndo takes back one step of an undo log.
func (s *Store) runUndo(e *undoEntry) {
	switch e.kind {
	case undoFunc:
		e.fn()
	case undoStep:
		e.step.undo()
	case undoOutbox:
		s.core.popOutbox(int(e.part))
	case undoIdemClaim:
		s.core.popIdem()
	case undoIdemReset:
		*s.core.idem.results.at(e.row) = nil
	}
}

// AddCounter implements storage.CounterStore.
func (s *Store) AddCounter(ctx context.Context, tenant storage.TenantID, key string, delta int64, bounds storage.Bounds) (int64, bool, error) {
	if err := tenant.Validate(); err != nil {
		return 0, false, err
	}
	var value int64
	var applied bool
	err := s.do(ctx, func(t *txn) error {
		k := counterKey{tenant, key}
		old, existed := s.core.counters[k]
		next := old + delta
		if (delta > 0 && next < old) || (delta < 0 && next > old) {
			return fmt.Errorf("%w: counter %q overflows", storage.ErrInvalidArgument, key)
		}
		if !bounds.Within(next) {
			value = old
			return nil
		}
		s.core.counters[k] = next
		t.onUndo(func() {
			if existed {
				s.core.counters[k] = old
			} else {
				delete(s.core.counters, k)
			}
		})
		value, applied = next, true
		return nil
	})
	return value, applied, err
}

// Counter implements storage.CounterStore.
func (s *Store) Counter(ctx context.Context, tenant storage.TenantID, key string) (int64, error) {
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var v int64
	err := s.do(ctx, func(*txn) error {
		v = s.core.counters[counterKey{tenant, key}]
		return nil
	})
	return v, err
}

// AcquireLease implements storage.LeaseStore.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (storage.Lease, bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return storage.Lease{}, false, fmt.Errorf("%w: a lease needs a name, an owner and a positive ttl", storage.ErrInvalidArgument)
	}
	var out storage.Lease
	var ok bool
	err := s.do(ctx, func(t *txn) error {
		old, existed := s.core.leases[name]
		if existed && old.Owner != owner && now.Before(old.ExpiresAt) {
			out = old
			return nil
		}
		next := storage.Lease{Name: name, Owner: owner, Token: old.Token, ExpiresAt: now.Add(ttl)}
		if !existed || old.Owner != owner {
			next.Token++
		}
		s.core.leases[name] = next
		t.onUndo(func() {
			if existed {
				s.core.leases[name] = old
			} else {
				delete(s.core.leases, name)
			}
		})
		out, ok = next, true
		return nil
	})
	return out, ok, err
}

// ReleaseLease implements storage.LeaseStore.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	return s.do(ctx, func(t *txn) error {
		old, existed := s.core.leases[name]
		if !existed || old.Owner != owner {
			return nil
		}
		next := old
		next.ExpiresAt = time.Time{}
		s.core.leases[name] = next
		t.onUndo(func() { s.core.leases[name] = old })
		return nil
	})
}
