package memory

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

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

// outboxRow is a stored message, without pointers: the outbox keeps every
// message, published or not, so its rows are the bulk of a busy store,
// and the collector need not scan rows that hold no pointers.
//
// A row keeps its bytes in coreState.text: the payload, then those of
// its IDs that cannot be found in what is already kept. Messages tend to
// repeat their IDs (a payload names its event and its aggregate; an
// event ID is often a name of its stream followed by an ID the payload
// carries), and each repeat kept once is as much less memory touched per
// message. Its tenant, topic, aggregate type and the location of its
// time are one entry of coreState.kinds.
type outboxRow struct {
	id       int64
	sec      int64 // created, as Unix seconds and nanoseconds
	text     textRef
	sameHash outboxLoc // the next older row whose event ID has the same hash
	// The bytes are at offsets relative to text: the payload (the first
	// payLen bytes, -1 for a nil payload); the event ID, as its first
	// headLen bytes at evAt followed by the rest at tailAt (when headLen <
	// evLen); the aggregate ID.
	payLen        int32
	evAt, headLen int32
	tailAt, evLen int32
	aggAt, aggLen int32
	kind          int32 // in coreState.kinds
	nsec          int32
	published     bool
}

// outboxKind is what messages of one stream share: their tenant, topic
// and aggregate type, and the location of their times (as in memTime).
type outboxKind struct {
	tenant  storage.TenantID
	topic   string
	aggType string
	loc     int32
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

// Where an event ID is not in its payload, push looks there for the rest
// of it after one of its first maxTailTries separators (bytes other than
// letters and digits), longest first, down to minTail bytes: enough for
// the usual "<stream>.<id>" and "<stream>:<tenant>:<key>" forms, and
// little work for the rest.
const (
	maxTailTries = 4
	minTail      = 8
)

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
	at := c.locs.pack(m.CreatedAt)
	*r = outboxRow{payLen: int32(len(m.Payload)), evLen: int32(len(m.EventID)), aggLen: int32(len(m.AggregateID)),
		kind: c.kinds.of(outboxKind{m.Tenant, m.Topic, m.AggregateType, at.loc}), sec: at.sec, nsec: at.nsec}
	if m.Payload == nil {
		r.payLen = -1
	}
	// Everything goes in first, the payload, the event ID and the
	// aggregate ID back to back, to be looked for in each other as bytes;
	// what is found elsewhere is then taken out again.
	np, ne, na := len(m.Payload), len(m.EventID), len(m.AggregateID)
	var b []byte
	r.text, b = c.text.alloc(np + ne + na)
	b = append(b, m.Payload...)
	b = append(b, m.EventID...)
	b = append(b, m.AggregateID...)
	pay, ev, agg := b[:np], b[np:np+ne], b[np+ne:]
	evAt, head := bytes.Index(pay, ev), ne
	end := np // the bytes kept so far
	if evAt < 0 {
		evAt = np
		for i, tries := 1, 0; i <= ne-minTail && tries < maxTailTries; i++ {
			if isIDByte(ev[i-1]) {
				continue
			}
			tries++
			if j := bytes.Index(pay, ev[i:]); j >= 0 {
				head, r.tailAt = i, int32(j)
				break
			}
		}
		end += head
	}
	aggAt := bytes.Index(pay, agg)
	if aggAt < 0 && evAt == np {
		if i := bytes.Index(ev[:head], agg); i >= 0 {
			aggAt = np + i
		}
	}
	if aggAt < 0 {
		copy(b[end:], agg)
		aggAt, end = end, end+na
	}
	r.evAt, r.headLen, r.aggAt = int32(evAt), int32(head), int32(aggAt)
	c.text.trim(r.text, end)
	return r
}

// isIDByte reports whether c is a letter or a digit, which IDs are made
// of between their separators.
func isIDByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// popOutbox takes back the last append to partition p, which must be the
// newest row of all (undo runs last step first): its row, its text and
// its place in the event index.
func (c *coreState) popOutbox(p int) {
	part := &c.outbox[p]
	part.n--
	r := part.at(part.n)
	// The row popped is the newest of all, so the head of its chain.
	h := c.eventHash(r)
	if r.sameHash.part >= 0 {
		c.eventIDs.heads[h] = r.sameHash
	} else {
		delete(c.eventIDs.heads, h)
	}
	c.text.truncateTo(r.text)
	*r = outboxRow{}
	part.head = min(part.head, part.n)
	c.outboxID--
}

// eventParts returns r's event ID as the bytes of its head and its tail
// (empty when the head is all of it), without copying.
func (c *coreState) eventParts(r *outboxRow) (head, tail []byte) {
	head = c.text.bytes(r.text, r.evAt, r.headLen)
	if r.headLen < r.evLen {
		tail = c.text.bytes(r.text, r.tailAt, r.evLen-r.headLen)
	}
	return head, tail
}

// eventID returns r's event ID.
func (c *coreState) eventID(r *outboxRow) string {
	head, tail := c.eventParts(r)
	if len(tail) == 0 {
		return string(head)
	}
	var sb strings.Builder
	sb.Grow(len(head) + len(tail))
	sb.Write(head)
	sb.Write(tail)
	return sb.String()
}

// eventHash is the event index's hash of r's event ID.
func (c *coreState) eventHash(r *outboxRow) uint32 {
	head, tail := c.eventParts(r)
	var h maphash.Hash
	h.SetSeed(c.eventIDs.seed)
	_, _ = h.Write(head)
	_, _ = h.Write(tail)
	return uint32(h.Sum64()) // as hash32: a Hash of the bytes written equals String of them
}

// isEvent reports whether r's event ID is id.
func (c *coreState) isEvent(r *outboxRow, id string) bool {
	head, tail := c.eventParts(r)
	return len(head)+len(tail) == len(id) && string(head) == id[:len(head)] && string(tail) == id[len(head):]
}

// message returns r as a message, with copies of its strings and payload.
func (c *coreState) message(r *outboxRow) storage.Message {
	k := &c.kinds.all[r.kind]
	m := storage.Message{ID: r.id, EventID: c.eventID(r), Tenant: k.tenant, Topic: k.topic, AggregateType: k.aggType,
		CreatedAt: c.locs.unpack(memTime{r.sec, r.nsec, k.loc})}
	// The aggregate ID shares the event ID's string when it lies in it.
	switch {
	case r.aggAt >= r.evAt && r.aggAt+r.aggLen <= r.evAt+r.headLen:
		m.AggregateID = m.EventID[r.aggAt-r.evAt:][:r.aggLen]
	case r.headLen < r.evLen && r.aggAt >= r.tailAt && r.aggAt+r.aggLen <= r.tailAt+r.evLen-r.headLen:
		m.AggregateID = m.EventID[r.headLen+r.aggAt-r.tailAt:][:r.aggLen]
	default:
		m.AggregateID = string(c.text.bytes(r.text, r.aggAt, r.aggLen))
	}
	if r.payLen >= 0 {
		m.Payload = make([]byte, r.payLen)
		copy(m.Payload, c.text.bytes(r.text, 0, r.payLen))
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
		if c.isEvent(r, id) {
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

// AppendOutbox implements storage.OutboxStore.
func (s *Store) AppendOutbox(ctx context.Context, msgs ...storage.Message) error {
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return err
		}
	}
	return s.do(ctx, func(t *txn) error {
		for i := range msgs {
			if err := s.appendOutbox(t, &msgs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// appendOutbox appends one validated message inside the open
// transaction t. The outbox copies the bytes it keeps (see outboxRow):
// m and its payload stay the caller's, unchanged.
func (s *Store) appendOutbox(t *txn, m *storage.Message) error {
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

// MarkOutboxPublished implements storage.OutboxStore: IDs not in the
// partition are ignored. Errors: storage.ErrInvalidArgument for a
// partition outside [0, storage.OutboxPartitions).
func (s *Store) MarkOutboxPublished(ctx context.Context, at time.Time, partition int, ids ...int64) error {
	if partition < 0 || partition >= storage.OutboxPartitions {
		return fmt.Errorf("%w: outbox partition %d outside [0,%d)", storage.ErrInvalidArgument, partition, storage.OutboxPartitions)
	}
	return s.do(ctx, func(t *txn) error {
		part := &s.core.outbox[partition]
		for _, id := range ids {
			i, ok := part.search(id)
			if !ok {
				continue
			}
			if r := part.at(i); !r.published {
				r.published = true
				t.onUndo(func() {
					part.at(i).published = false
					part.head = min(part.head, i)
				})
			}
		}
		return nil
	})
}
