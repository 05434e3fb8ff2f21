package sqlstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/reward/rewardtest"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// BenchmarkRewardLeaderboard reads the top 100 of 100,000 participants on
// PostgreSQL, through the rank index.
func BenchmarkRewardLeaderboard(b *testing.B) {
	ctx := context.Background()
	pg := backends[1]
	s := pg.open(b, pg.place(b), sqlstore.Options{})
	_, err := s.DB().ExecContext(ctx, "INSERT INTO "+s.TablePrefix()+"reward_progress (tenant, campaign, period, participant, value, reached_at)"+
		" SELECT 'tenant-a', 'rank', 'all', 'p' || lpad(i::text, 6, '0'), (i::bigint * 7919) % 1000, timestamptz '2025-08-01' + ((i::bigint * 104729) % 86400) * interval '1 second'"+
		" FROM generate_series(1, 100000) AS i")
	require.NoError(b, err)
	_, err = s.DB().ExecContext(ctx, "ANALYZE "+s.TablePrefix()+"reward_progress")
	require.NoError(b, err)
	rs := s.Rewards()
	b.Run("top100", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			top, err := rs.Leaderboard(ctx, tenantA, "rank", "all", 100)
			if err != nil || len(top) != 100 {
				b.Fatal(err, len(top))
			}
		}
	})
	b.Run("rank", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, _, err := rs.Rank(ctx, tenantA, reward.ProgressKey{Campaign: "rank", Period: "all", Participant: "p050000"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRewardHandlePostgres handles distinct order events from 16
// goroutines over 16 connections, with ten active campaigns listening
// (rewardtest.BenchCampaigns, as reward's BenchmarkHandle: counts,
// amounts, weighted quantities and a team ranking, three rules each).
func BenchmarkRewardHandlePostgres(b *testing.B) {
	ctx := context.Background()
	pg := backendNamed("postgres")
	s := pg.open(b, pg.place(b), sqlstore.Options{MaxConns: 16})
	eng, err := reward.New(reward.Config{Store: s.Rewards(), Tx: s, Awarder: &reward.Recorder{}})
	require.NoError(b, err)
	t0 := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range rewardtest.BenchCampaigns(b, t0) {
		_, err := eng.PutCampaign(ctx, tenantA, c)
		require.NoError(b, err)
	}
	var n atomic.Int64
	b.SetParallelism(16) // 16 * GOMAXPROCS goroutines; the pool caps them at 16 connections
	b.ReportAllocs()
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := eng.Handle(ctx, tenantA, benchRewardEvent(t0, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// benchRewardEvent is the i-th event: one of 5,000 users, a random amount.
func benchRewardEvent(t0 time.Time, i int64) reward.Event {
	rng := rand.New(rand.NewPCG(uint64(i), 2))
	u := rng.IntN(5000)
	return rewardtest.OrderEvent(t0, i, u, 1000+rng.Int64N(10000))
}

// AddProgressBatch (one statement for many rows, or one per change when a
// row repeats) ends where AddProgress one change at a time ends, and a
// transaction that fails takes the whole batch back.
func TestRewardProgressBatch(t *testing.T) {
	eachStore(t, sqlstore.Options{}, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		rs := s.Rewards()
		bs, ok := rs.(reward.ProgressBatchStore)
		require.True(t, ok)
		t0 := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
		key := func(c, p string) reward.ProgressKey {
			return reward.ProgressKey{Campaign: c, Period: "all", Participant: p}
		}
		batches := [][]reward.ProgressChange{
			{{Key: key("a", "u1"), Delta: 3, At: t0}, {Key: key("b", "u1"), Delta: 1, At: t0}, {Key: key("a", "u2"), Delta: 0, At: t0.Add(time.Hour)}},
			{{Key: key("a", "u1"), Delta: -1, At: t0.Add(-time.Hour)}, {Key: key("a", "u1"), Delta: 5, At: t0.Add(2 * time.Hour)}},
			{{Key: key("b", "u1"), Delta: 2, At: t0.Add(time.Minute)}},
		}
		model := map[reward.ProgressKey]reward.Progress{}
		for _, batch := range batches {
			values, err := bs.AddProgressBatch(ctx, tenantA, batch)
			require.NoError(t, err)
			require.Len(t, values, len(batch))
			for i, ch := range batch {
				p := model[ch.Key]
				p.ProgressKey, p.Value = ch.Key, p.Value+ch.Delta
				if ch.At.After(p.ReachedAt) {
					p.ReachedAt = ch.At
				}
				model[ch.Key] = p
				require.Equal(t, p.Value, values[i], "change %d of %v", i, batch)
			}
		}
		for k, want := range model {
			got, err := rs.Progress(ctx, tenantA, k)
			require.NoError(t, err)
			require.Equal(t, want.Value, got.Value, k)
			require.True(t, want.ReachedAt.Equal(got.ReachedAt), k)
		}
		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if _, err := bs.AddProgressBatch(ctx, tenantA, []reward.ProgressChange{{Key: key("a", "u1"), Delta: 100, At: t0}, {Key: key("c", "u9"), Delta: 1, At: t0}}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		got, err := rs.Progress(ctx, tenantA, key("a", "u1"))
		require.NoError(t, err)
		require.Equal(t, model[key("a", "u1")].Value, got.Value)
		_, err = rs.Progress(ctx, tenantA, key("c", "u9"))
		require.ErrorIs(t, err, reward.ErrNoProgress)
	})
}
