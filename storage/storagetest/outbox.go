package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage"
)

func msg(tenant storage.TenantID, agg string, seq int) storage.Message {
	return storage.Message{
		EventID:       fmt.Sprintf("%s-%s-%d", tenant, agg, seq),
		Tenant:        tenant,
		Topic:         "test.happened",
		AggregateType: "thing",
		AggregateID:   agg,
		Payload:       fmt.Appendf(nil, `{"seq":%d}`, seq),
	}
}

func pendingAll(t *testing.T, s Store) []storage.Message {
	t.Helper()
	var all []storage.Message
	for p := range storage.OutboxPartitions {
		ms, err := s.PendingOutbox(context.Background(), p, 10_000)
		require.NoError(t, err)
		all = append(all, ms...)
	}
	return all
}

// recorder is a Publisher that remembers what it was given, and can be
// told to fail on chosen events once.
type recorder struct {
	mu     sync.Mutex
	got    []storage.Message
	failOn map[string]bool
}

func (r *recorder) Publish(_ context.Context, m storage.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failOn[m.EventID] {
		delete(r.failOn, m.EventID)
		return errors.New("broker unavailable")
	}
	r.got = append(r.got, m)
	return nil
}

// checkOrder asserts at-least-once delivery of want and, per aggregate,
// that no message was delivered before one that precedes it.
func (r *recorder) checkOrder(t *testing.T, want []storage.Message) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, m := range r.got {
		seen[m.EventID] = true
	}
	for _, m := range want {
		assert.True(t, seen[m.EventID], "not delivered: %s", m.EventID)
	}
	delivered := map[string]bool{}
	for _, m := range r.got {
		for _, w := range want {
			if w.AggregateID == m.AggregateID && w.Tenant == m.Tenant && w.EventID == m.EventID {
				break
			}
			if w.AggregateID == m.AggregateID && w.Tenant == m.Tenant {
				require.True(t, delivered[w.EventID], "%s delivered before %s", m.EventID, w.EventID)
			}
		}
		delivered[m.EventID] = true
	}
}

// RunOutbox checks the outbox and the relay.
func RunOutbox(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("append commits and rolls back with the transaction", func(t *testing.T) {
		s := h.Open(t)
		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.AppendOutbox(ctx, msg(tenantA, "x", 1)))
			return boom
		})
		require.ErrorIs(t, err, boom)
		assert.Empty(t, pendingAll(t, s))
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			return s.AppendOutbox(ctx, msg(tenantA, "x", 1), msg(tenantA, "x", 2))
		}))
		got := pendingAll(t, s)
		require.Len(t, got, 2)
		assert.Equal(t, "tenant-a-x-1", got[0].EventID)
		assert.Equal(t, "tenant-a-x-2", got[1].EventID)
		assert.Less(t, got[0].ID, got[1].ID)
		assert.JSONEq(t, `{"seq":1}`, string(got[0].Payload))
		assert.Equal(t, tenantA, got[0].Tenant)
		assert.False(t, got[0].CreatedAt.IsZero())
	})

	t.Run("pending and published", func(t *testing.T) {
		s := h.Open(t)
		m := msg(tenantA, "x", 1)
		require.NoError(t, s.AppendOutbox(ctx, m, msg(tenantA, "x", 2)))
		p := m.Partition()
		got, err := s.PendingOutbox(ctx, p, 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		other := (p + 1) % storage.OutboxPartitions
		require.NoError(t, s.MarkOutboxPublished(ctx, time.Now(), other, got[0].ID), "an ID of another partition is ignored")
		again, err := s.PendingOutbox(ctx, p, 1)
		require.NoError(t, err)
		assert.Equal(t, got, again, "not marked from another partition")
		require.NoError(t, s.MarkOutboxPublished(ctx, time.Now(), p, got[0].ID, 1<<40), "an unknown ID is ignored")
		got, err = s.PendingOutbox(ctx, p, 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "tenant-a-x-2", got[0].EventID)
	})

	t.Run("bad input", func(t *testing.T) {
		s := h.Open(t)
		m := msg(tenantA, "x", 1)
		m.Topic = ""
		require.ErrorIs(t, s.AppendOutbox(ctx, m), storage.ErrInvalidArgument)
		m = msg("", "x", 1)
		require.ErrorIs(t, s.AppendOutbox(ctx, m), storage.ErrInvalidTenant)
		require.NoError(t, s.AppendOutbox(ctx, msg(tenantA, "x", 1)))
		require.ErrorIs(t, s.AppendOutbox(ctx, msg(tenantA, "x", 2), msg(tenantA, "x", 1)), storage.ErrDuplicate)
		assert.Len(t, pendingAll(t, s), 1, "a refused batch writes nothing")
		_, err := s.PendingOutbox(ctx, storage.OutboxPartitions, 1)
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
	})

	t.Run("two relays deliver everything in order per aggregate", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		var want []storage.Message
		for seq := range 10 {
			for a := range 20 {
				want = append(want, msg(tenantA, fmt.Sprintf("agg%02d", a), seq))
			}
		}
		// Appended concurrently by several writers, one aggregate each.
		var wg sync.WaitGroup
		for a := range 20 {
			wg.Go(func() {
				for seq := range 10 {
					m := msg(tenantA, fmt.Sprintf("agg%02d", a), seq)
					require.NoError(t, s1.InTx(ctx, func(ctx context.Context) error { return s1.AppendOutbox(ctx, m) }))
				}
			})
		}
		wg.Wait()
		rec := &recorder{failOn: map[string]bool{"tenant-a-agg03-4": true, "tenant-a-agg07-0": true}}
		clock := storage.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		relays := []*storage.Relay{
			{Outbox: s1, Leases: s1, Publisher: rec, Clock: clock, Owner: "relay-1", BatchSize: 7, LeaseTTL: time.Minute},
			{Outbox: s2, Leases: s2, Publisher: rec, Clock: clock, Owner: "relay-2", BatchSize: 7, LeaseTTL: time.Minute},
		}
		for round := 0; round < 100 && len(pendingAll(t, s1)) > 0; round++ {
			var rw sync.WaitGroup
			for _, r := range relays {
				rw.Go(func() { _, _ = r.RunOnce(ctx) })
			}
			rw.Wait()
			if round == 5 { // relay-1 stops renewing; relay-2 takes over its partitions
				relays = relays[1:]
				clock.Advance(2 * time.Minute)
			}
		}
		assert.Empty(t, pendingAll(t, s1))
		rec.checkOrder(t, want)
	})

	t.Run("a partition is drained by one relay at a time", func(t *testing.T) {
		s := h.Open(t)
		require.NoError(t, s.AppendOutbox(ctx, msg(tenantA, "x", 1)))
		clock := storage.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		rec1, rec2 := &recorder{}, &recorder{}
		r1 := &storage.Relay{Outbox: s, Leases: s, Publisher: rec1, Clock: clock, Owner: "r1", LeaseTTL: time.Minute}
		r2 := &storage.Relay{Outbox: s, Leases: s, Publisher: rec2, Clock: clock, Owner: "r2", LeaseTTL: time.Minute}
		n, err := r1.RunOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		require.NoError(t, s.AppendOutbox(ctx, msg(tenantA, "x", 2)))
		n, err = r2.RunOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 0, n, "r1 still holds the partition")
		clock.Advance(61 * time.Second)
		n, err = r2.RunOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "r1's lease expired")
		assert.Len(t, rec1.got, 1)
		assert.Len(t, rec2.got, 1)
	})

	t.Run("relay validates its configuration", func(t *testing.T) {
		r := &storage.Relay{}
		_, err := r.RunOnce(ctx)
		require.Error(t, err)
		for _, part := range []string{"Outbox", "Leases", "Publisher", "Clock", "Owner"} {
			assert.Contains(t, err.Error(), part)
		}
	})
}
