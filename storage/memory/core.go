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
	idem     map[idemKey]*idemRow
	counters map[counterKey]int64
	leases   map[string]storage.Lease
	outbox   [storage.OutboxPartitions]outboxPart
	outboxID int64
	eventIDs map[string]struct{}
	spare    *txn // the undo log of do's own transactions, used under the lock only
}

// idemRow is a stored idempotency record; the map holds it by pointer so
// that its undo needs only the pointer.
type idemRow struct {
	key idemKey
	rec storage.IdempotencyRecord
}

type outboxRow struct {
	msg       storage.Message
	published bool
}

// outboxChunk is the number of rows in one chunk of an outbox partition.
const outboxChunk = 64

// outboxPart is one outbox partition: rows in append order, kept in
// fixed-size chunks so that an append never copies the rows before it.
type outboxPart struct {
	chunks []*[outboxChunk]outboxRow
	n      int // rows in use
	head   int // every row before head is published
}

func (p *outboxPart) at(i int) *outboxRow { return &p.chunks[i/outboxChunk][i%outboxChunk] }

// push appends a row and returns it; chunks emptied by pop are reused.
func (p *outboxPart) push(m *storage.Message) {
	c := p.n / outboxChunk
	if c == len(p.chunks) {
		p.chunks = append(p.chunks, new([outboxChunk]outboxRow))
	}
	p.chunks[c][p.n%outboxChunk] = outboxRow{msg: *m}
	p.n++
}

// pop removes the last row and returns its event ID.
func (p *outboxPart) pop() string {
	p.n--
	r := p.at(p.n)
	id := r.msg.EventID
	*r = outboxRow{}
	p.head = min(p.head, p.n)
	return id
}

// search returns the index of the row with message ID id.
func (p *outboxPart) search(id int64) (int, bool) {
	i, j := 0, p.n
	for i < j {
		h := int(uint(i+j) >> 1)
		if p.at(h).msg.ID < id {
			i = h + 1
		} else {
			j = h
		}
	}
	return i, i < p.n && p.at(i).msg.ID == id
}

func (c *coreState) init() {
	c.idem = make(map[idemKey]*idemRow)
	c.counters = make(map[counterKey]int64)
	c.leases = make(map[string]storage.Lease)
	c.eventIDs = make(map[string]struct{})
}

// runUndo takes back one step of an undo log.
func (s *Store) runUndo(e *undoEntry) {
	switch e.kind {
	case undoFunc:
		e.fn()
	case undoStep:
		e.step.undo()
	case undoOutbox:
		delete(s.core.eventIDs, s.core.outbox[e.part].pop())
		s.core.outboxID--
	case undoIdemClaim:
		delete(s.core.idem, e.idem.key)
	case undoIdemReset:
		e.idem.rec.Result = nil
	}
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
			p := old.rec
			p.Result = slices.Clone(p.Result)
			prior = &p
			return nil
		}
		row := &idemRow{key: k, rec: rec}
		row.rec.Result = nil
		s.core.idem[k] = row
		t.onUndoStep(undoEntry{kind: undoIdemClaim, idem: row})
		return nil
	})
	return prior, err
}

// CompleteIdempotencyKey implements storage.IdempotencyStore.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, tenant storage.TenantID, operation, key string, result []byte) error {
	return s.do(ctx, func(t *txn) error {
		row, ok := s.core.idem[idemKey{tenant, operation, key}]
		if !ok {
			return fmt.Errorf("%w: idempotency key %s/%s", storage.ErrNotFound, operation, key)
		}
		old := row.rec.Result
		row.rec.Result = slices.Clone(result)
		if old == nil {
			t.onUndoStep(undoEntry{kind: undoIdemReset, idem: row})
		} else {
			t.onUndo(func() { row.rec.Result = old })
		}
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

// appendOutbox appends validated messages inside the open transaction t,
// storing a copy of each payload.
func (s *Store) appendOutbox(t *txn, msgs []storage.Message) error {
	for i := range msgs {
		m := msgs[i]
		m.Payload = slices.Clone(m.Payload)
		if err := s.appendOutboxOwned(t, &m); err != nil {
			return err
		}
	}
	return nil
}

// appendOutboxOwned appends one validated message inside the open
// transaction t. It stores m.Payload as is: the caller hands over the
// payload's backing array and must neither change it nor hand it to
// anyone who might, now or later.
func (s *Store) appendOutboxOwned(t *txn, m *storage.Message) error {
	// one map operation both checks and takes the event ID
	n := len(s.core.eventIDs)
	s.core.eventIDs[m.EventID] = struct{}{}
	if len(s.core.eventIDs) == n {
		return fmt.Errorf("%w: outbox event %q", storage.ErrDuplicate, m.EventID)
	}
	s.core.outboxID++
	p := m.Partition()
	part := &s.core.outbox[p]
	part.push(m)
	r := part.at(part.n - 1)
	r.msg.ID = s.core.outboxID
	if r.msg.CreatedAt.IsZero() {
		r.msg.CreatedAt = s.clock.Now()
	}
	t.onUndoStep(undoEntry{kind: undoOutbox, part: int32(p)})
	return nil
}

// PendingOutbox implements storage.OutboxStore.
func (s *Store) PendingOutbox(ctx context.Context, partition, limit int) ([]storage.Message, error) {
	if partition < 0 || partition >= storage.OutboxPartitions || limit <= 0 {
		return nil, fmt.Errorf("%w: outbox partition %d, limit %d", storage.ErrInvalidArgument, partition, limit)
	}
	var out []storage.Message
	err := s.do(ctx, func(*txn) error {
		part := &s.core.outbox[partition]
		for part.head < part.n && part.at(part.head).published {
			part.head++
		}
		for i := part.head; i < part.n; i++ {
			r := part.at(i)
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
				part := &s.core.outbox[p]
				i, ok := part.search(id)
				if !ok {
					continue
				}
				found = true
				if r := part.at(i); !r.published {
					r.published = true
					t.onUndo(func() {
						part.at(i).published = false
						part.head = min(part.head, i)
					})
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
