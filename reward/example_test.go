package reward_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// A sales challenge: 2 orders earn 100 points, 3 earn 300 more. The stream
// carries a duplicate and a refund that arrives before its order.
func Example() {
	ctx := context.Background()
	mem := memory.MustNew()
	awarder := &reward.Recorder{}
	eng, _ := reward.New(reward.Config{Store: mem.Rewards(), Tx: mem, Awarder: awarder})
	points := money.MustCurrency("POINTS", 0)
	start := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	_, err := eng.PutCampaign(ctx, "shop", reward.Campaign{
		ID: "august-sprint", Kind: reward.Challenge, Status: reward.StatusActive,
		Start: start, End: start.AddDate(0, 1, 0),
		EventTypes:  []reward.EventType{reward.OrderInstalled},
		Participant: reward.ParticipantStaff,
		Indicator:   reward.Indicator{Strategy: reward.OrderCount},
		Clawback:    reward.ClawbackOnReverse,
		Tiers: []reward.Tier{
			{Target: 2, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(100, points)}},
			{Target: 3, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(300, points)}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ord := func(id string, h int) reward.Event {
		return reward.Event{ID: id, Type: reward.OrderInstalled, StaffID: "amy", Time: start.Add(time.Duration(h) * time.Hour)}
	}
	stream := []reward.Event{
		ord("o1", 1), ord("o2", 2), ord("o2", 2), // o2 delivered twice
		{ID: "refund-o3", Type: reward.Refund, OriginalID: "o3", Time: start.Add(9 * time.Hour)},
		ord("o3", 3), ord("o4", 4), ord("o5", 5),
	}
	for _, ev := range stream {
		out, err := eng.Handle(ctx, "shop", ev)
		if err != nil {
			fmt.Println(err)
			return
		}
		// A redelivery returns the first outcome (and awards nothing new).
		for _, g := range out.Grants {
			fmt.Printf("%s: %s %s %s\n", ev.ID, g.Change, g.Slot, g.Award.Amount)
		}
		if out.Pending {
			fmt.Printf("%s: waits for %s\n", ev.ID, ev.OriginalID)
		}
	}
	p, _ := eng.Progress(ctx, "shop", "august-sprint", "", "amy")
	fmt.Println("orders:", p.Value)
	// Output:
	// o2: awarded tier/0 100 POINTS
	// o2: awarded tier/0 100 POINTS
	// refund-o3: waits for o3
	// o4: awarded tier/1 300 POINTS
	// orders: 4
}

// A PK ranking between teams, settled when the campaign closes.
func ExampleEngine_Leaderboard() {
	ctx := context.Background()
	mem := memory.MustNew()
	eng, _ := reward.New(reward.Config{Store: mem.Rewards(), Tx: mem, Awarder: &reward.Recorder{}})
	cash := reward.Award{Kind: reward.AwardCash, Amount: money.MustParse("50.00", money.USD)}
	start := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	_, _ = eng.PutCampaign(ctx, "shop", reward.Campaign{
		ID: "team-pk", Kind: reward.Ranking, Status: reward.StatusActive,
		Start: start, End: start.AddDate(0, 0, 7),
		EventTypes:  []reward.EventType{reward.OrderInstalled},
		Participant: reward.ParticipantTeam,
		Indicator:   reward.Indicator{Strategy: reward.OrderAmount, Currency: "USD"},
		TopN:        3,
		RankRewards: []reward.RankReward{{From: 1, To: 1, Award: cash}},
	})
	sale := func(id, team string, h int, amount string) reward.Event {
		return reward.Event{ID: id, Type: reward.OrderInstalled, TeamID: team, Time: start.Add(time.Duration(h) * time.Hour),
			Amount: money.MustParse(amount, money.USD)}
	}
	for _, ev := range []reward.Event{sale("1", "red", 3, "80.00"), sale("2", "blue", 1, "50.00"), sale("3", "blue", 2, "30.00"), sale("4", "green", 1, "10.00")} {
		if _, err := eng.Handle(ctx, "shop", ev); err != nil {
			fmt.Println(err)
		}
	}
	board, _ := eng.Leaderboard(ctx, "shop", "team-pk", 0)
	for _, s := range board {
		fmt.Printf("%d. %s %d\n", s.Rank, s.Participant, s.Value)
	}
	settled, _ := eng.Close(ctx, "shop", "team-pk")
	for _, g := range settled.Grants {
		fmt.Println("award:", g.Participant, g.Award.Amount)
	}
	// Output:
	// 1. blue 8000
	// 2. red 8000
	// 3. green 1000
	// award: blue 50.00 USD
}

// Explain tells why an event does not count.
func ExampleEngine_Explain() {
	ctx := context.Background()
	mem := memory.MustNew()
	eng, _ := reward.New(reward.Config{Store: mem.Rewards(), Tx: mem})
	start := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	_, _ = eng.PutCampaign(ctx, "shop", reward.Campaign{
		ID: "vip", Kind: reward.Challenge, Status: reward.StatusActive, Start: start, End: start.AddDate(0, 1, 0),
		EventTypes: []reward.EventType{reward.OrderInstalled}, Participant: reward.ParticipantUser,
		Participants: []string{"ann"}, Indicator: reward.Indicator{Strategy: reward.OrderCount},
		Tiers: []reward.Tier{{Target: 1, Award: reward.Award{Kind: reward.AwardCoupon, Template: "C10", Quantity: 1, Cost: 10}}},
	})
	verdicts, _ := eng.Explain(ctx, "shop", reward.Event{ID: "o9", Type: reward.OrderInstalled, UserID: "bob", Time: start.AddDate(0, 2, 0)})
	for _, v := range verdicts {
		fmt.Println(v.Campaign, v.Counts)
		for _, r := range v.Reasons {
			fmt.Println(" -", r)
		}
	}
	// Output:
	// vip false
	//  - event time 2025-10-01T00:00:00Z is outside the campaign window [2025-08-01T00:00:00Z, 2025-09-01T00:00:00Z)
	//  - user "bob" does not take part in the campaign
}

// DryRun shows what a draft would cost on last month's stream.
func ExampleEngine_DryRun() {
	mem := memory.MustNew()
	eng, _ := reward.New(reward.Config{Store: mem.Rewards(), Tx: mem})
	points := money.MustCurrency("POINTS", 0)
	start := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	draft := reward.Campaign{
		ID: "draft", Kind: reward.Challenge, Start: start, End: start.AddDate(0, 1, 0),
		EventTypes: []reward.EventType{reward.OrderInstalled}, Participant: reward.ParticipantUser,
		Indicator: reward.Indicator{Strategy: reward.OrderCount},
		Tiers:     []reward.Tier{{Target: 2, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(100, points)}}},
	}
	var stream []reward.Event
	for i, u := range []string{"ann", "bob", "ann", "cid", "bob", "ann"} {
		stream = append(stream, reward.Event{ID: fmt.Sprint("o", i), Type: reward.OrderInstalled, UserID: u, Time: start.Add(time.Duration(i) * time.Hour)})
	}
	rep, _ := eng.DryRun(context.Background(), draft, stream)
	for _, a := range rep.Awards {
		fmt.Println(a.Participant, a.Award.Amount)
	}
	fmt.Println("total:", rep.Totals[0], "cost:", rep.TotalCost)
	// Output:
	// ann 100 POINTS
	// bob 100 POINTS
	// total: 200 POINTS cost: 200
}

// ParseEvent reads an event from a queue message and refuses bad input.
func ExampleParseEvent() {
	ev, err := reward.ParseEvent([]byte(`{"id":"o1","type":"order_installed","time":"2025-08-01T10:00:00Z","user_id":"ann","amount":{"amount":"12.30","currency":"USD"}}`))
	fmt.Println(ev.ID, ev.Amount, err)
	_, err = reward.ParseEvent([]byte(`{"id":"o2","type":"teleported","time":"2025-08-01T10:00:00Z"}`))
	fmt.Println(err)
	// Output:
	// o1 12.30 USD <nil>
	// reward: event o2: type: reward: unknown event type: "teleported"
}
