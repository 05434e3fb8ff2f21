package reward_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// benchCampaigns returns ten active campaigns over order events: counts,
// amounts, products, a ranking, each with a few eligibility rules.
func benchCampaigns(tb testing.TB) []reward.Campaign {
	minAmount, err := rules.MinOrderAmount(money.MustParse("5", money.USD)).Definition("min-amount")
	require.NoError(tb, err)
	region, err := rules.RegionIn("north", "east", "south").Definition("region")
	require.NoError(tb, err)
	channel, err := rules.ChannelIn("app", "web").Definition("channel")
	require.NoError(tb, err)
	var out []reward.Campaign
	for i := range 10 {
		c := reward.Campaign{ID: fmt.Sprintf("bench-%02d", i), Kind: reward.Challenge, Status: reward.StatusActive,
			Start: t0, End: t0.AddDate(1, 0, 0), EventTypes: []reward.EventType{reward.OrderInstalled},
			Participant: reward.ParticipantUser, Clawback: reward.ClawbackOnReverse,
			Rules: []rules.Definition{minAmount, region, channel},
			Tiers: []reward.Tier{{Target: 5, Award: points(10)}, {Target: 50, Award: points(100)}}}
		switch i % 4 {
		case 0:
			c.Indicator = reward.Indicator{Strategy: reward.OrderCount}
		case 1:
			c.Indicator = reward.Indicator{Strategy: reward.OrderAmount, Currency: "USD"}
			c.Tiers = []reward.Tier{{Target: 100_00, Award: points(10)}, {Target: 1000_00, Award: points(100)}}
		case 2:
			c.Indicator = reward.Indicator{Strategy: reward.ProductQuantity, CategoryWeights: map[string]int64{"phone": 2, "case": 1}}
			c.Participant = reward.ParticipantShop
		case 3:
			c.Kind, c.Tiers, c.TopN = reward.Ranking, nil, 100
			c.Indicator = reward.Indicator{Strategy: reward.OrderCount}
			c.Participant = reward.ParticipantTeam
		}
		out = append(out, c)
	}
	return out
}

func benchEvents(n int) []reward.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	evs := make([]reward.Event, n)
	for i := range evs {
		u := rng.IntN(5000)
		evs[i] = reward.Event{ID: fmt.Sprintf("e-%d", i), Type: reward.OrderInstalled, Time: t0.Add(time.Duration(i) * time.Second),
			UserID: fmt.Sprintf("u%d", u), ShopID: fmt.Sprintf("shop%d", u%100), TeamID: fmt.Sprintf("team%d", u%20),
			Region: "north", Channel: "app", Amount: money.FromMinor(1000+rng.Int64N(10000), money.USD),
			Lines: []reward.Line{{SKU: "sku-1", Category: "phone", Quantity: 1}, {SKU: "sku-9", Category: "case", Quantity: 2}}}
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
	for _, c := range benchCampaigns(b) {
		_, err := eng.PutCampaign(ctx, tenant, c)
		require.NoError(b, err)
	}
	evs := benchEvents(b.N)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		if _, err := eng.Handle(ctx, tenant, evs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU time per event: on a shared machine wall time also counts the
	// time other processes held the cores.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event")
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

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
