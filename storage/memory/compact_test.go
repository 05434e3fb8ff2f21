package memory

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

// The compact records of ledger.go and core.go: their containers, and the
// hash indexes' chains, which real hashes almost never exercise.

func TestSlabAcrossChunks(t *testing.T) {
	var s slab[int64]
	for i := range 3*slabChunk + 5 {
		require.Equal(t, int32(i), s.push(int64(i)))
	}
	s.truncate(slabChunk + 1)
	assert.Equal(t, slabChunk+1, s.len())
	assert.Equal(t, int32(slabChunk+1), s.push(-1))
	assert.Equal(t, int64(-1), *s.at(slabChunk + 1))
	assert.Equal(t, int64(slabChunk), *s.at(slabChunk))
}

func TestEntryListAcrossChunks(t *testing.T) {
	var l entryList
	for i := range 2*entryChunk + 3 {
		l.push(entryRef{balance: int64(i)})
	}
	for _, n := range []int{2*entryChunk + 1, 2 * entryChunk, entryChunk + 7, entryChunk, 1, 0} {
		l.truncate(n)
		require.Equal(t, n, l.len())
		if n > 0 {
			assert.Equal(t, int64(n-1), l.at(n-1).balance)
		}
		l.push(entryRef{balance: -1})
		assert.Equal(t, int64(-1), l.at(n).balance)
		l.truncate(n)
	}
}

func TestTextArena(t *testing.T) {
	var a textArena
	r1, b := a.alloc(3)
	_ = append(b, "abc"...)
	m := a.mark()
	big := strings.Repeat("x", textChunk+10) // more than a chunk: a chunk of its own
	r2, b := a.alloc(len(big))
	_ = append(b, big...)
	r3, b := a.alloc(2)
	_ = append(b, "yz"...)
	assert.Equal(t, "abc", string(a.bytes(r1, 0, 3)))
	assert.Equal(t, big, string(a.bytes(r2, 0, int32(len(big)))))
	assert.Equal(t, "z", string(a.bytes(r3, 1, 1)))
	a.truncateTo(r3)
	a.truncate(m)
	r4, b := a.alloc(1)
	_ = append(b, "d"...)
	assert.Equal(t, textRef{0, 3}, r4, "the space after the mark is reused")
	assert.Equal(t, "abcd", string(a.bytes(r1, 0, 4)))
}

func TestLocations(t *testing.T) {
	var ls locations
	east := time.FixedZone("UTC+8", 8*3600)
	for _, tm := range []time.Time{
		{}, time.Date(2025, 3, 1, 12, 0, 0, 5, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999, east), time.Now(),
		time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Unix(0, 0).UTC(),
	} {
		got := ls.unpack(ls.pack(tm))
		assert.True(t, tm.Equal(got), "%s read back as %s", tm, got)
		assert.Equal(t, tm.Location(), got.Location())
		assert.Equal(t, tm.IsZero(), got.IsZero())
	}
	utc := time.Date(2025, 3, 1, 12, 0, 0, 5, time.UTC)
	assert.Equal(t, utc, ls.unpack(ls.pack(utc)), "a UTC time reads back identical")
}

func TestTxIndexChains(t *testing.T) {
	s := MustNew()
	lt := s.tenantLedger("t", true)
	add := func(id, key string) int32 {
		tx := memTx{idLen: int32(len(id)), keyLen: int32(len(key))}
		var b []byte
		tx.text, b = lt.text.alloc(len(id) + len(key))
		b = append(b, id...)
		_ = append(b, key...)
		return lt.txs.push(tx)
	}
	a, b := add("a", "ka"), add("b", "kb")
	ha := hash32(lt.seed, "a")
	lt.link(byID, ha, a)
	lt.link(byID, ha, b) // as if "b" hashed as "a" does
	i, h, ok := lt.find(byID, "a")
	require.True(t, ok, "found down the chain")
	assert.Equal(t, a, i)
	assert.Equal(t, ha, h)
	_, _, ok = lt.find(byID, "b")
	assert.False(t, ok, "b's own hash leads nowhere")
	_, _, ok = lt.find(byKey, "ka")
	assert.False(t, ok, "keys are another index")
	lt.unlink(byID, ha, b)
	i, _, ok = lt.find(byID, "a")
	require.True(t, ok)
	assert.Equal(t, a, i)
	lt.unlink(byID, ha, a)
	assert.Empty(t, lt.byID)
}

func TestEventIndexChains(t *testing.T) {
	s := MustNew()
	ctx := context.Background()
	msg := func(id string) storage.Message {
		return storage.Message{EventID: id, Tenant: "t", Topic: "x.happened", AggregateType: "x", AggregateID: "1", Payload: []byte(`{}`)}
	}
	require.NoError(t, s.AppendOutbox(ctx, msg("e1")))
	// A second row chained under e1's hash, as a collision would put it.
	err := s.do(ctx, func(tx *txn) error {
		m := msg("e2")
		_, h, head := s.core.findEvent("e1")
		p := m.Partition()
		loc := outboxLoc{int32(p), int32(s.core.outbox[p].n)}
		s.core.outboxID++
		r := s.core.push(p, &m)
		r.id, r.sameHash = s.core.outboxID, head
		s.core.eventIDs.heads[h] = loc
		tx.onUndoStep(undoEntry{kind: undoOutbox, part: int32(p)})
		return nil
	})
	require.NoError(t, err)
	row, _, _ := s.core.findEvent("e1")
	require.NotNil(t, row, "found down the chain")
	assert.Equal(t, "e1", string(s.core.eventID(row)))
	require.ErrorIs(t, s.AppendOutbox(ctx, msg("e1")), storage.ErrDuplicate)

	// A rolled-back append takes its row and its text back.
	boom := errors.New("boom")
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context) error {
		require.NoError(t, s.AppendOutbox(ctx, msg("e3")))
		return boom
	}), boom)
	row, _, _ = s.core.findEvent("e3")
	assert.Nil(t, row)
	require.NoError(t, s.AppendOutbox(ctx, msg("e3")))
	got, err := s.PendingOutbox(ctx, msg("e1").Partition(), 10)
	require.NoError(t, err)
	var ids []string
	for _, m := range got {
		ids = append(ids, m.EventID)
		assert.Equal(t, `{}`, string(m.Payload))
		assert.Equal(t, "1", m.AggregateID)
	}
	assert.Equal(t, []string{"e1", "e2", "e3"}, ids)
}

func TestOutboxAggregateInEventID(t *testing.T) {
	s := MustNew()
	ctx := context.Background()
	in := []storage.Message{
		{EventID: "ledger.tx.abc", Tenant: "t", Topic: "x", AggregateType: "tx", AggregateID: "abc", Payload: []byte(`{"a":1}`)},
		{EventID: "e-9", Tenant: "t", Topic: "x", AggregateType: "tx", AggregateID: "abc"},
		{EventID: "e-10", Tenant: "t", Topic: "x", AggregateType: "tx", AggregateID: "abc", Payload: []byte{}},
	}
	require.NoError(t, s.AppendOutbox(ctx, in...))
	got, err := s.PendingOutbox(ctx, in[0].Partition(), 10)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i := range in {
		assert.Equal(t, in[i].EventID, got[i].EventID)
		assert.Equal(t, "abc", got[i].AggregateID)
		assert.Equal(t, in[i].Payload, got[i].Payload, "nil stays nil, empty stays empty")
		assert.Equal(t, storage.TenantID("t"), got[i].Tenant)
	}
}
