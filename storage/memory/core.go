package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
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
	eventIDs eventIndex
	// What outbox rows refer to: their event IDs, aggregate IDs and
	// payloads (text), their tenants, topics and aggregate types, and the
	// locations of their times.
	text     textArena
	tenants  names
	topics   names
	aggTypes names
	locs     locations
	spare    *txn // the undo log of do's own transactions, used under the lock only
}

// eventIndex finds outbox rows by event ID, to keep event IDs unique. Its
// map is keyed by the hash32 of the ID, not the ID; rows whose IDs share a
// hash are chained through outboxRow.sameHash, newest first, and every
// hit is checked against the row's ID.
type eventIndex struct {
	seed  maphash.Seed
	heads map[uint32]outboxLoc
}

// outboxLoc locates a row: its partition and its index there. A negative
// partition locates nothing (the end of a chain).
type outboxLoc struct{ part, i int32 }

// idemRow is a stored idempotency record; the map holds it by pointer so
// that its undo needs only the pointer.
type idemRow struct {
	key idemKey
	rec storage.IdempotencyRecord
}

// outboxRow is a stored message, without pointers: the outbox keeps every
// message, published or not, so its rows are the bulk of a busy store,
// and rows the collector need not scan cost nothing to keep. Strings and
// the payload live in coreState.text, and names in its name tables.
type outboxRow struct {
	id                     int64
	text                   textRef // event ID, aggregate ID (unless aggInEvent) and payload, back to back
	eventLen, aggLen       int32
	payloadLen             int32 // -1: a nil payload
	tenant, topic, aggType int32 // in coreState.tenants, topics, aggTypes
	created                memTime
	sameHash               outboxLoc // the next older row whose event ID has the same hash
	// aggInEvent: the aggregate ID is the end of the event ID (as in
	// "ledger.tx.<id>") and is not stored again.
	aggInEvent bool
	published  bool
}

// outboxChunk is the number of rows in one chunk of an outbox partition.
const outboxChunk = 128

// outboxPart is one outbox partition: rows in append order, kept in
// fixed-size chunks so that an append never copies the rows before it.
type outboxPart struct {
	chunks []*[outboxChunk]outboxRow
	n      int // rows in use
	head   int // every row before head is published
}

func (p *outboxPart) at(i int) *outboxRow { return &p.chunks[i/outboxChunk][i%outboxChunk] }

// push appends m to partition p and returns its row, with ID and
// sameHash left to the caller.
func (c *coreState) push(p int, m *storage.Message) *outboxRow {
	part := &c.outbox[p]
	k := part.n / outboxChunk
	if k == len(part.chunks) {
		part.chunks = append(part.chunks, new([outboxChunk]outboxRow))
	}
	r := &part.chunks[k][part.n%outboxChunk]
	part.n++
	*r = outboxRow{eventLen: int32(len(m.EventID)), aggLen: int32(len(m.AggregateID)), payloadLen: int32(len(m.Payload)),
		tenant: c.tenants.of(string(m.Tenant)), topic: c.topics.of(m.Topic), aggType: c.aggTypes.of(m.AggregateType),
		created: c.locs.pack(m.CreatedAt), aggInEvent: strings.HasSuffix(m.EventID, m.AggregateID)}
	if m.Payload == nil {
		r.payloadLen = -1
	}
	agg := m.AggregateID
	if r.aggInEvent {
		agg = ""
	}
	var b []byte
	r.text, b = c.text.alloc(len(m.EventID) + len(agg) + len(m.Payload))
	b = append(b, m.EventID...)
	b = append(b, agg...)
	_ = append(b, m.Payload...)
	return r
}

// pop removes the last row of partition p, which must be the newest row
// of all (undo runs last step first), and returns it as it was.
func (c *coreState) pop(p int) outboxRow {
	part := &c.outbox[p]
	part.n--
	r := part.at(part.n)
	old := *r
	*r = outboxRow{}
	part.head = min(part.head, part.n)
	c.text.truncateTo(old.text)
	return old
}

// eventID returns the bytes of r's event ID, without copying.
func (c *coreState) eventID(r *outboxRow) []byte { return c.text.bytes(r.text, 0, r.eventLen) }

// message returns r as a message, with copies of its strings and payload.
func (c *coreState) message(r *outboxRow) storage.Message {
	idsLen := r.eventLen + r.aggLen
	if r.aggInEvent {
		idsLen = r.eventLen
	}
	ids := string(c.text.bytes(r.text, 0, idsLen)) // one copy, two strings
	m := storage.Message{ID: r.id, EventID: ids[:r.eventLen], Tenant: storage.TenantID(c.tenants.strs[r.tenant]),
		Topic: c.topics.strs[r.topic], AggregateType: c.aggTypes.strs[r.aggType], AggregateID: ids[idsLen-r.aggLen:],
		CreatedAt: c.locs.unpack(r.created)}
	if r.payloadLen >= 0 {
		m.Payload = make([]byte, r.payloadLen)
		copy(m.Payload, c.text.bytes(r.text, idsLen, r.payloadLen))
	}
	return m
}

// findEvent returns the row with event ID id (nil when there is none),
// id's hash and the head of that hash's chain.
func (c *coreState) findEvent(id string) (*outboxRow, uint32, outboxLoc) {
	h := hash32(c.eventIDs.seed, id)
	head, ok := c.eventIDs.heads[h]
	if !ok {
		return nil, h, outboxLoc{-1, -1}
	}
	for loc := head; loc.part >= 0; {
		r := c.outbox[loc.part].at(int(loc.i))
		if string(c.eventID(r)) == id {
			return r, h, head
		}
		loc = r.sameHash
	}
	return nil, h, head
}

// search returns the index of the row with message ID id.
func (p *outboxPart) search(id int64) (int, bool) {
	i, j := 0, p.n
	for i < j {
		h := int(uint(i+j) >> 1)
		if p.at(h).id < id {
			i = h + 1
		} else {
			j = h
		}
	}
	return i, i < p.n && p.at(i).id == id
}

func (c *coreState) init() {
	c.idem = make(map[idemKey]*idemRow)
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
		// The row popped is the newest of all, so the head of its chain.
		r := s.core.pop(int(e.part))
		h := hash32(s.core.eventIDs.seed, string(s.core.text.bytes(r.text, 0, r.eventLen)))
		if r.sameHash.part >= 0 {
			s.core.eventIDs.heads[h] = r.sameHash
		} else {
			delete(s.core.eventIDs.heads, h)
		}
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

// appendOutbox appends validated messages inside the open transaction t.
func (s *Store) appendOutbox(t *txn, msgs []storage.Message) error {
	for i := range msgs {
		if err := s.appendOutboxOwned(t, &msgs[i]); err != nil {
			return err
		}
	}
	return nil
}

// appendOutboxOwned appends one validated message inside the open
// transaction t. The outbox copies what it keeps (see outboxRow), so the
// caller may hand over a payload it will not change, or one it will: the
// name stays from when the payload was kept as is.
func (s *Store) appendOutboxOwned(t *txn, m *storage.Message) error {
	prior, h, head := s.core.findEvent(m.EventID)
	if prior != nil {
		return fmt.Errorf("%w: outbox event %q", storage.ErrDuplicate, m.EventID)
	}
	if m.CreatedAt.IsZero() {
		c := *m
		c.CreatedAt = s.clock.Now()
		m = &c
	}
	p := m.Partition()
	loc := outboxLoc{int32(p), int32(s.core.outbox[p].n)}
	s.core.outboxID++
	r := s.core.push(p, m)
	r.id = s.core.outboxID
	r.sameHash = head
	s.core.eventIDs.heads[h] = loc
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
			out = append(out, s.core.message(r))
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
