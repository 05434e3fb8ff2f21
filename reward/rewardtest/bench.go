package rewardtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules"
)

// BenchCampaigns returns ten active campaigns over order events, running a
// year from start: order counts, amounts, weighted product quantities and
// a team ranking, each with three eligibility rules (minimum amount,
// region, channel) that OrderEvent passes. A benchmark puts them with
// Engine.PutCampaign and then handles OrderEvents.
func BenchCampaigns(tb testing.TB, start time.Time) []reward.Campaign {
	tb.Helper()
	minAmount, err := rules.MinOrderAmount(money.MustParse("5", money.USD)).Definition("min-amount")
	require.NoError(tb, err)
	region, err := rules.RegionIn("north", "east", "south").Definition("region")
	require.NoError(tb, err)
	channel, err := rules.ChannelIn("app", "web").Definition("channel")
	require.NoError(tb, err)
	pts := money.MustCurrency("POINTS", 0)
	points := func(n int64) reward.Award {
		return reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(n, pts)}
	}
	out := make([]reward.Campaign, 0, 10)
	for i := range 10 {
		c := reward.Campaign{ID: fmt.Sprintf("bench-%02d", i), Kind: reward.Challenge, Status: reward.StatusActive,
			Start: start, End: start.AddDate(1, 0, 0), EventTypes: []reward.EventType{reward.OrderInstalled},
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

// OrderEvent is the i-th order event of a benchmark, i seconds after
// start, from user u (shop u%100, team u%20; a caller draws u below 5,000)
// for amountMinor US cents, with two lines. The caller draws u and the
// amount, so that each benchmark keeps its own random sequence.
func OrderEvent(start time.Time, i int64, u int, amountMinor int64) reward.Event {
	return reward.Event{ID: fmt.Sprintf("e-%d", i), Type: reward.OrderInstalled, Time: start.Add(time.Duration(i) * time.Second),
		UserID: fmt.Sprintf("u%d", u), ShopID: fmt.Sprintf("shop%d", u%100), TeamID: fmt.Sprintf("team%d", u%20),
		Region: "north", Channel: "app", Amount: money.FromMinor(amountMinor, money.USD),
		Lines: []reward.Line{{SKU: "sku-1", Category: "phone", Quantity: 1}, {SKU: "sku-9", Category: "case", Quantity: 2}}}
}
