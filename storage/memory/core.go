package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

var (
	_ storage.IdempotencyStore = (*Store)(nil)
	_ storage.OutboxStore      = (*Store)(nil)
	_ storage.LeaseStore       = (*Store)(nil)
	_ storage.CounterStore     = (*Store)(nil)
)

type idemKey struct {
	tenant    storage.TenantID
	operation string
	key       string
}

type counterKey struct {
	tenant storage.TenantID
	key    string
}

// coreState holds the port's own records.
type coreState struct {
	idem     map[idemKey]storage.IdempotencyRecord
	counters map[counterKey]int64
	leases   map[string]storage.Lease
	outbox   [storage.OutboxPartitions][]outboxRow // append order per partition
	outboxID int64
	eventIDs map[string]struct{}
}

type outboxRow struct {
	msg       storage.Message
	published bool
}

func (c *coreState) init() {
	c.idem = make(map[idemKey]storage.IdempotencyRecord)
	c.counters = make(map[counterKey]int64)
	c.leases = make(map[string]storage.Lease)
	c.eventIDs = make(map[string]struct{})
}

// ClaimIdempotencyKey implements storage.IdempotencyStore.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, rec storage.IdempotencyRecord) (*storage.IdempotencyRecord, error) {
	if err := rec.Tenant.Validate(); err != nil {
		return nil, err
	}
	var prior *storage.IdempotencyRecord
	err := s.do(ctx, func(t *txn) error {
		k := idemKey{rec.Tenant, rec.Operation, rec.Key}
		if old, ok := s.core.idem[k]; ok {
			old.Result = slices.Clone(old.Result)
			prior = &old
			return nil
		}
		rec.Result = nil
		s.core.idem[k] = rec
		t.onUndo(func() { delete(s.core.idem, k) })
		return nil
	})
	return prior, err
}

// CompleteIdempotencyKey implements storage.IdempotencyStore.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, tenant storage.TenantID, operation, key string, result []byte) error {
	return s.do(ctx, func(t *txn) error {
		k := idemKey{tenant, operation, key}
		old, ok := s.core.idem[k]
		if !ok {
			return fmt.Errorf("%w: idempotency key %s/%s", storage.ErrNotFound, operation, key)
		}
		rec := old
		rec.Result = slices.Clone(result)
		s.core.idem[k] = rec
		t.onUndo(func() { s.core.idem[k] = old })
		return nil
	})
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

// AppendOutbox implements storage.OutboxStore.
func (s *Store) AppendOutbox(ctx context.Context, msgs ...storage.Message) error {
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return err
		}
	}
	return s.do(ctx, func(t *txn) error { return s.appendOutbox(t, msgs) })
}

// appendOutbox appends validated messages inside the open transaction t.
func (s *Store) appendOutbox(t *txn, msgs []storage.Message) error {
	for _, m := range msgs {
		if _, dup := s.core.eventIDs[m.EventID]; dup {
			return fmt.Errorf("%w: outbox event %q", storage.ErrDuplicate, m.EventID)
		}
		s.core.outboxID++
		m.ID = s.core.outboxID
		m.Payload = slices.Clone(m.Payload)
		if m.CreatedAt.IsZero() {
			m.CreatedAt = s.clock.Now()
		}
		p := m.Partition()
		s.core.outbox[p] = append(s.core.outbox[p], outboxRow{msg: m})
		s.core.eventIDs[m.EventID] = struct{}{}
		id := m.EventID
		t.onUndo(func() {
			s.core.outbox[p] = s.core.outbox[p][:len(s.core.outbox[p])-1]
			delete(s.core.eventIDs, id)
			s.core.outboxID--
		})
	}
	return nil
}

// PendingOutbox implements storage.OutboxStore.
func (s *Store) PendingOutbox(ctx context.Context, partition, limit int) ([]storage.Message, error) {
	if partition < 0 || partition >= storage.OutboxPartitions || limit <= 0 {
		return nil, fmt.Errorf("%w: outbox partition %d, limit %d", storage.ErrInvalidArgument, partition, limit)
	}
	var out []storage.Message
	err := s.do(ctx, func(*txn) error {
		for _, r := range s.core.outbox[partition] {
			if r.published {
				continue
			}
			m := r.msg
			m.Payload = slices.Clone(m.Payload)
			out = append(out, m)
			if len(out) == limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// MarkOutboxPublished implements storage.OutboxStore.
func (s *Store) MarkOutboxPublished(ctx context.Context, at time.Time, ids ...int64) error {
	return s.do(ctx, func(t *txn) error {
		for _, id := range ids {
			found := false
			for p := range s.core.outbox {
				rows := s.core.outbox[p]
				i, ok := slices.BinarySearchFunc(rows, id, func(r outboxRow, id int64) int { return cmpInt64(r.msg.ID, id) })
				if !ok {
					continue
				}
				found = true
				if !rows[i].published {
					rows[i].published = true
					t.onUndo(func() { s.core.outbox[p][i].published = false })
				}
				break
			}
			if !found {
				return fmt.Errorf("%w: outbox message %d", storage.ErrNotFound, id)
			}
		}
		return nil
	})
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
