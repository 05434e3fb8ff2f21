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

// The compact core records: outbox rows that keep an ID once however
// often the message repeats it, idempotency rows with binary
// fingerprints, and the transaction's reused undo log.

func TestOutboxKeepsRepeatedIDsOnce(t *testing.T) {
	tests := []struct {
		name      string
		eventID   string
		aggID     string
		payload   []byte
		wantBytes int // what the row keeps in the text arena
	}{
		{"both IDs in the payload", "e-7", "c-1", []byte(`{"event_id":"e-7","coupon_id":"c-1"}`), 36},
		{"event ID is a head and the aggregate", "ledger.tx.abcdefgh", "abcdefgh", []byte(`{"id":"abcdefgh"}`), 17 + len("ledger.tx.")},
		{"event ID is a head and a key", "reward.granted:shop:reward/c1/u1/1", "c1/u1",
			[]byte(`{"key":"reward/c1/u1/1"}`), 24 + len("reward.granted:shop:")},
		{"a tail shorter than minTail is not looked for", "ledger.tx.abc", "abc", []byte(`{"id":"abc"}`), 12 + len("ledger.tx.abc")},
		{"a tail after more than maxTailTries separators is not looked for", "a.b.c.d.e.abcdefgh", "x",
			[]byte(`{"id":"abcdefgh"}`), 17 + len("a.b.c.d.e.abcdefgh") + 1},
		{"aggregate ends the event ID", "ledger.tx.abc", "abc", []byte(`{"a":1}`), 7 + len("ledger.tx.abc")},
		{"aggregate inside the event ID", "shop/order/o1/2", "o1", []byte(`{}`), 2 + len("shop/order/o1/2")},
		{"aggregate in the payload, event not", "shop/order/o1/2", "o1", []byte(`{"order_id":"o1"}`), 17 + len("shop/order/o1/2")},
		{"event in the payload, aggregate not", "e-7", "zz", []byte(`{"event_id":"e-7"}`), 18 + 2},
		{"nothing shared", "e-7", "zz", []byte(`{"a":1}`), 7 + 3 + 2},
		{"nil payload", "ledger.tx.abc", "abc", nil, len("ledger.tx.abc")},
		{"empty payload", "e-7", "zz", []byte{}, 3 + 2},
		{"event ID equals the aggregate", "abc", "abc", []byte(`"abc"`), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustNew()
			ctx := context.Background()
			at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
			in := storage.Message{EventID: tt.eventID, Tenant: "t", Topic: "x.happened", AggregateType: "x",
				AggregateID: tt.aggID, Payload: tt.payload, CreatedAt: at}
			require.NoError(t, s.AppendOutbox(ctx, in))
			assert.Equal(t, tt.wantBytes, len(s.core.text.chunks[0]))

			got, err := s.PendingOutbox(ctx, in.Partition(), 10)
			require.NoError(t, err)
			require.Len(t, got, 1)
			in.ID = got[0].ID
			assert.Equal(t, in, got[0])
			r, _, _ := s.core.findEvent(tt.eventID)
			require.NotNil(t, r)
			assert.Equal(t, tt.eventID, s.core.eventID(r))
			assert.Equal(t, hash32(s.core.eventIDs.seed, tt.eventID), s.core.eventHash(r))
			require.ErrorIs(t, s.AppendOutbox(ctx, in), storage.ErrDuplicate)
			// A prefix or an extension of a kept ID is another event.
			for _, other := range []string{tt.eventID[:len(tt.eventID)-1], tt.eventID + "x"} {
				r, _, _ := s.core.findEvent(other)
				assert.Nil(t, r, other)
			}

			// Rolled back, the row gives its bytes and its index entry back.
			boom := errors.New("boom")
			next := in
			next.EventID, next.Payload = "2-"+tt.eventID, append([]byte(nil), tt.payload...)
			require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context) error {
				require.NoError(t, s.AppendOutbox(ctx, next))
				return boom
			}), boom)
			assert.Equal(t, tt.wantBytes, len(s.core.text.chunks[0]))
			r, _, _ = s.core.findEvent(next.EventID)
			assert.Nil(t, r)
			r, _, _ = s.core.findEvent(tt.eventID)
			assert.NotNil(t, r)
		})
	}
}

func TestOutboxKindsAndTimes(t *testing.T) {
	s := MustNew()
	ctx := context.Background()
	clock := storage.NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s.clock = clock
	var in []storage.Message
	for i, k := range []struct{ tenant, topic, agg string }{{"t1", "a", "x"}, {"t2", "a", "x"}, {"t1", "b", "x"}, {"t1", "a", "y"}, {"t1", "a", "x"}} {
		in = append(in, storage.Message{EventID: strings.Repeat("e", i+1), Tenant: storage.TenantID(k.tenant), Topic: k.topic,
			AggregateType: k.agg, AggregateID: "1"})
	}
	require.NoError(t, s.AppendOutbox(ctx, in...))
	assert.Len(t, s.core.kinds.all, 4, "the last message repeats the first one's kind")
	byEvent := map[string]storage.Message{}
	for p := range storage.OutboxPartitions {
		got, err := s.PendingOutbox(ctx, p, 10)
		require.NoError(t, err)
		for _, m := range got {
			byEvent[m.EventID] = m
		}
	}
	for _, m := range in {
		got := byEvent[m.EventID]
		assert.Equal(t, m.Tenant, got.Tenant)
		assert.Equal(t, m.Topic, got.Topic)
		assert.Equal(t, m.AggregateType, got.AggregateType)
		assert.True(t, got.CreatedAt.Equal(clock.Now()), "a zero time is stamped by the store's clock")
	}
}

func TestIdempotencyRows(t *testing.T) {
	s := MustNew()
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	hexFp := strings.Repeat("0123456789abcdef", 4)
	recs := []storage.IdempotencyRecord{
		{Tenant: "t", Operation: "op", Key: "k1", Fingerprint: hexFp, CreatedAt: at},
		{Tenant: "t", Operation: "op", Key: "k2", Fingerprint: strings.ToUpper(hexFp), CreatedAt: at},
		{Tenant: "t", Operation: "op", Key: "k3", Fingerprint: "fp-1", CreatedAt: at},
		{Tenant: "t", Operation: "op", Key: "k4", Fingerprint: "", CreatedAt: at},
		{Tenant: "u", Operation: "op", Key: "k1", Fingerprint: hexFp[1:] + "g", CreatedAt: at},
	}
	for _, rec := range recs {
		prior, err := s.ClaimIdempotencyKey(ctx, rec)
		require.NoError(t, err)
		require.Nil(t, prior)
	}
	assert.Equal(t, int32(-1), s.core.idem.rows.at(0).fpLen, "lower-case hex is kept as bytes")
	for i := int32(1); i < int32(len(recs)); i++ {
		assert.Equal(t, int32(len(recs[i].Fingerprint)), s.core.idem.rows.at(i).fpLen, "other forms are kept as text")
	}
	result := []byte(`{"n":1}`)
	require.NoError(t, s.CompleteIdempotencyKey(ctx, "t", "op", "k1", result))
	assert.Same(t, &result[0], &(*s.core.idem.results.at(0))[0], "the store keeps the caller's result")
	for i, rec := range recs {
		prior, err := s.ClaimIdempotencyKey(ctx, rec)
		require.NoError(t, err)
		require.NotNil(t, prior)
		want := rec
		if i == 0 {
			want.Result = result
		}
		assert.Equal(t, want, *prior)
	}
	prior, err := s.ClaimIdempotencyKey(ctx, recs[0])
	require.NoError(t, err)
	prior.Result[0] = 'x'
	assert.Equal(t, byte('{'), result[0], "a replay gets a copy")

	require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, "t", "op", "k9", nil), storage.ErrNotFound)
	require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, "v", "op", "k1", nil), storage.ErrNotFound)
	require.ErrorIs(t, s.CompleteIdempotencyKey(ctx, "t", "op2", "k1", nil), storage.ErrNotFound)

	// A second completion is undone to the first result.
	boom := errors.New("boom")
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context) error {
		require.NoError(t, s.CompleteIdempotencyKey(ctx, "t", "op", "k1", []byte(`2`)))
		return boom
	}), boom)
	assert.Equal(t, result, *s.core.idem.results.at(0))
}

func TestIdempotencyChainsAndRollback(t *testing.T) {
	s := MustNew()
	ctx := context.Background()
	rec := func(key string) storage.IdempotencyRecord {
		return storage.IdempotencyRecord{Tenant: "t", Operation: "op", Key: key, Fingerprint: "f"}
	}
	_, err := s.ClaimIdempotencyKey(ctx, rec("a"))
	require.NoError(t, err)
	// A second row chained under a's hash, as a collision would put it.
	require.NoError(t, s.do(ctx, func(tx *txn) error {
		c := &s.core
		tenant, op := c.tenants.of("t"), c.idem.ops.of("op")
		_, h, head := c.idemChain(tenant, op, "a")
		row := idemRow{keyLen: 1, tenant: tenant, op: op, sameHash: head, fpLen: 1}
		var b []byte
		row.text, b = c.idem.text.alloc(2)
		_ = append(b, "bf"...)
		i := c.idem.rows.push(row)
		c.idem.results.push(nil)
		c.idem.heads[h] = i
		tx.onUndoStep(undoEntry{kind: undoIdemClaim})
		return nil
	}))
	i := s.core.findIdem("t", "op", "a")
	assert.Equal(t, int32(0), i, "found down the chain")
	p, err := s.ClaimIdempotencyKey(ctx, rec("a"))
	require.NoError(t, err)
	require.NotNil(t, p)
	assert.Equal(t, "a", p.Key)

	// A rolled-back claim takes its row, its text and its index entry back.
	boom := errors.New("boom")
	rows, text := s.core.idem.rows.len(), len(s.core.idem.text.chunks[0])
	require.ErrorIs(t, s.InTx(ctx, func(ctx context.Context) error {
		for _, k := range []string{"c", "d"} {
			p, err := s.ClaimIdempotencyKey(ctx, rec(k))
			require.NoError(t, err)
			require.Nil(t, p)
		}
		require.NoError(t, s.CompleteIdempotencyKey(ctx, "t", "op", "d", []byte(`1`)))
		return boom
	}), boom)
	assert.Equal(t, rows, s.core.idem.rows.len())
	assert.Equal(t, text, len(s.core.idem.text.chunks[0]))
	assert.Len(t, s.core.idem.heads, 1, "a and its chained row")
	i = s.core.findIdem("t", "op", "c")
	assert.Equal(t, int32(-1), i)
	p, err = s.ClaimIdempotencyKey(ctx, rec("d"))
	require.NoError(t, err)
	assert.Nil(t, p, "claimable again")
	assert.Nil(t, *s.core.idem.results.at(int32(rows)), "and without the rolled-back result")
}

func TestUndoLogReusedAcrossTransactions(t *testing.T) {
	s := MustNew()
	ctx := context.Background()
	write := func(ctx context.Context, n int) {
		for i := range n {
			_, _, err := s.AddCounter(ctx, "t", "c", int64(i), storage.Bounds{})
			require.NoError(t, err)
		}
	}
	require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { write(ctx, 20); return nil }))
	require.GreaterOrEqual(t, cap(s.core.undoLog), 20)
	kept := &s.core.undoLog[:1][0]
	var stale context.Context
	require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
		assert.Nil(t, s.core.undoLog, "the open transaction has the log")
		tx, _ := storage.CurrentTx(ctx, s)
		assert.Same(t, kept, &tx.Handle().(*txn).undo[:1][0])
		write(ctx, 3)
		stale = ctx
		return nil
	}))
	for _, e := range s.core.undoLog[:cap(s.core.undoLog)] {
		assert.Nil(t, e.fn, "a finished log holds no references")
	}
	tx, _ := storage.CurrentTx(stale, s)
	assert.Nil(t, tx.Handle().(*txn).undo, "a finished transaction keeps no log")

	// A huge transaction's log is not kept.
	require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { write(ctx, maxSpareUndo+1); return nil }))
	assert.Nil(t, s.core.undoLog)
	require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { write(ctx, 1); return nil }))
	assert.NotNil(t, s.core.undoLog)
}

func TestLockWaitTimesOutAgain(t *testing.T) {
	s, err := New(Options{LockWait: 20 * time.Millisecond})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
		// Calls with a context from outside wait for the lock and time
		// out, each with a (reused) timer of its own.
		for range 3 {
			start := time.Now()
			_, _, err := s.AddCounter(context.Background(), "t", "c", 1, storage.Bounds{})
			require.ErrorIs(t, err, storage.ErrLockTimeout)
			assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
		}
		return nil
	}))
	v, err := s.Counter(ctx, "t", "c")
	require.NoError(t, err)
	assert.Zero(t, v)
}
