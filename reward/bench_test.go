package reward_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/cputime"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/reward/rewardtest"
	"github.com/rewardkit/rewardkit/storage/memory"
)

func benchEvents(n int) []reward.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	evs := make([]reward.Event, n)
	for i := range evs {
		u := rng.IntN(5000)
		evs[i] = rewardtest.OrderEvent(t0, int64(i), u, 1000+rng.Int64N(10000))
	}
	return evs
}

// BenchmarkHandle measures one event through match, flows, progress and
// awards with ten active campaigns, on the memory store.
func BenchmarkHandle(b *testing.B) {
	ctx := context.Background()
	s := memory.MustNew()
	eng, err := reward.New(reward.Config{Store: s.Rewards(), Tx: s, Awarder: &reward.Recorder{}})
	require.NoError(b, err)
	for _, c := range rewardtest.BenchCampaigns(b, t0) {
		_, err := eng.PutCampaign(ctx, tenant, c)
		require.NoError(b, err)
	}
	evs := benchEvents(b.N)
	b.ReportAllocs()
	cpu0 := cputime.Now()
	b.ResetTimer()
	for i := range b.N {
		if _, err := eng.Handle(ctx, tenant, evs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU per event: on a shared machine wall time also counts the time
	// other processes held the cores.
	cputime.Report(b, cpu0, b.N, "events")
}

// BenchmarkLeaderboardTop100 reads the top 100 of 100,000 participants.
func BenchmarkLeaderboardTop100(b *testing.B) {
	ctx := context.Background()
	s := memory.MustNew()
	rs := s.Rewards()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 100_000 {
		_, err := rs.AddProgress(ctx, tenant, reward.ProgressKey{Campaign: "rank", Period: "all", Participant: fmt.Sprintf("p%06d", i)},
			rng.Int64N(1000), t0.Add(time.Duration(rng.IntN(86400))*time.Second))
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		top, err := rs.Leaderboard(ctx, tenant, "rank", "all", 100)
		if err != nil || len(top) != 100 {
			b.Fatal(err, len(top))
		}
	}
}

// BenchmarkRank finds one participant's rank among 100,000.
func BenchmarkRank(b *testing.B) {
	ctx := context.Background()
	s := memory.MustNew()
	rs := s.Rewards()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 100_000 {
		_, err := rs.AddProgress(ctx, tenant, reward.ProgressKey{Campaign: "rank", Period: "all", Participant: fmt.Sprintf("p%06d", i)},
			rng.Int64N(1000), t0.Add(time.Duration(rng.IntN(86400))*time.Second))
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := rs.Rank(ctx, tenant, reward.ProgressKey{Campaign: "rank", Period: "all", Participant: fmt.Sprintf("p%06d", i%100_000)}); err != nil {
			b.Fatal(err)
		}
	}
}
