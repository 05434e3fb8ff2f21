package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/pgtest"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

func msg(event, aggregate string) storage.Message {
	return storage.Message{EventID: event, Tenant: tenantA, Topic: "coupon.used", AggregateType: "coupon",
		AggregateID: aggregate, Payload: []byte(`{"e":"` + event + `"}`)}
}

func pendingAll(t *testing.T, s *sqlstore.Store) []storage.Message {
	t.Helper()
	var all []storage.Message
	for p := range storage.OutboxPartitions {
		ms, err := s.PendingOutbox(context.Background(), p, sqlstore.MaxOutboxBatch)
		require.NoError(t, err)
		for _, m := range ms {
			assert.Equal(t, p, m.Partition())
		}
		all = append(all, ms...)
	}
	return all
}

func TestOutboxAppendPendingMark(t *testing.T) {
	ctx := context.Background()
	created := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		msgs := []storage.Message{msg("e1", "c1"), msg("e2", "c1"), msg("e3", "c2")}
		msgs[0].CreatedAt = created
		msgs[2].Payload = nil
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { return s.AppendOutbox(ctx, msgs...) }))
		assert.Positive(t, msgs[0].ID)
		assert.Greater(t, msgs[1].ID, msgs[0].ID, "IDs grow in append order")

		err := s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, s.AppendOutbox(ctx, msg("rolled-back", "c1")))
			return errors.New("abort")
		})
		require.Error(t, err)

		all := pendingAll(t, s)
		require.Len(t, all, 3, "the rolled-back message is not there")
		byEvent := map[string]storage.Message{}
		for _, m := range all {
			byEvent[m.EventID] = m
		}
		assert.Equal(t, msgs[0], byEvent["e1"])
		assert.Equal(t, []byte(`{"e":"e2"}`), byEvent["e2"].Payload)
		assert.Nil(t, byEvent["e3"].Payload)
		assert.True(t, created.Equal(byEvent["e1"].CreatedAt))

		p := msgs[0].Partition()
		got, err := s.PendingOutbox(ctx, p, 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "e1", got[0].EventID, "lowest ID first")

		for _, m := range []storage.Message{msgs[0], msgs[2], msgs[0]} { // the last again: no-op
			require.NoError(t, s.MarkOutboxPublished(ctx, time.Now(), m.Partition(), m.ID))
		}
		all = pendingAll(t, s)
		require.Len(t, all, 1)
		assert.Equal(t, "e2", all[0].EventID)

		err = s.AppendOutbox(ctx, msg("e2", "c9"))
		require.ErrorIs(t, err, storage.ErrDuplicate, "event IDs are unique per tenant")
		other := msg("e2", "c9")
		other.Tenant = tenantB
		require.NoError(t, s.AppendOutbox(ctx, other))
	})
}

func TestOutboxBadInput(t *testing.T) {
	ctx := context.Background()
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		bad := msg("", "c1")
		require.ErrorIs(t, s.AppendOutbox(ctx, msg("ok", "c1"), bad), storage.ErrInvalidArgument)
		assert.Empty(t, pendingAll(t, s), "a bad batch stores nothing")
		noTenant := msg("x", "c1")
		noTenant.Tenant = ""
		require.ErrorIs(t, s.AppendOutbox(ctx, noTenant), storage.ErrInvalidTenant)
		for _, tt := range []struct{ p, limit int }{{-1, 1}, {storage.OutboxPartitions, 1}, {0, 0}, {0, -5}} {
			_, err := s.PendingOutbox(ctx, tt.p, tt.limit)
			require.ErrorIs(t, err, storage.ErrInvalidArgument, "%+v", tt)
		}
		require.NoError(t, s.MarkOutboxPublished(ctx, time.Now(), 0))
		require.ErrorIs(t, s.MarkOutboxPublished(ctx, time.Now(), storage.OutboxPartitions, 1), storage.ErrInvalidArgument)
	})
}

// Two relays on two store instances deliver every message once, in order
// per aggregate.
func TestOutboxRelays(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, b backend, place string) {
		s1 := b.open(t, place, sqlstore.Options{})
		s2 := b.open(t, place, sqlstore.Options{SkipMigrate: true})
		const aggregates, each = 6, 5
		for i := range each {
			for a := range aggregates {
				require.NoError(t, s1.AppendOutbox(ctx, msg(fmt.Sprintf("a%d-%d", a, i), fmt.Sprintf("agg%d", a))))
			}
		}
		var mu sync.Mutex
		seen := map[string][]string{}
		pub := storage.PublisherFunc(func(_ context.Context, m storage.Message) error {
			mu.Lock()
			defer mu.Unlock()
			seen[m.AggregateID] = append(seen[m.AggregateID], m.EventID)
			return nil
		})
		clock := storage.NewFakeClock(time.Now())
		relays := []*storage.Relay{
			{Outbox: s1, Leases: s1, Publisher: pub, Clock: clock, Owner: "r1", BatchSize: 3},
			{Outbox: s2, Leases: s2, Publisher: pub, Clock: clock, Owner: "r2", BatchSize: 3},
		}
		total := 0
		for round := 0; round < 20 && total < aggregates*each; round++ {
			var wg sync.WaitGroup
			counts := make([]int, len(relays))
			for i, r := range relays {
				wg.Go(func() {
					n, err := r.RunOnce(ctx)
					assert.NoError(t, err)
					counts[i] = n
				})
			}
			wg.Wait()
			total += counts[0] + counts[1]
			clock.Advance(time.Minute) // leases expire: partitions change hands
		}
		assert.Equal(t, aggregates*each, total)
		for a := range aggregates {
			var want []string
			for i := range each {
				want = append(want, fmt.Sprintf("a%d-%d", a, i))
			}
			assert.Equal(t, want, seen[fmt.Sprintf("agg%d", a)])
		}
		assert.Empty(t, pendingAll(t, s2))
	})
}

// TestOutboxMarkUsesPendingIndex: with no primary key on id, marking
// messages published finds them through the pending index by partition.
func TestOutboxMarkUsesPendingIndex(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.OpenPostgres(ctx, pgtest.DSN(t), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	plan := explain(t, s.DB(), "UPDATE rk_outbox SET published_at = now() WHERE partition_no = 3 AND published_at IS NULL AND id IN (1, 2)")
	assert.Contains(t, plan, "rk_outbox_pending", plan)
	var keys int
	require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT count(*) FROM pg_indexes WHERE tablename = 'rk_outbox'").Scan(&keys))
	assert.Equal(t, 2, keys, "the pending index and the unique event ID")
}
