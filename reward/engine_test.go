package reward_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

type fixture struct {
	eng *reward.Engine
	mem *memory.Store
	rec *reward.Recorder
}

func newFixture(t testing.TB, camps ...reward.Campaign) *fixture {
	t.Helper()
	mem := memory.MustNew()
	rec := &reward.Recorder{}
	eng, err := reward.New(reward.Config{Store: mem.Rewards(), Tx: mem, Awarder: rec})
	require.NoError(t, err)
	for _, c := range camps {
		_, err := eng.PutCampaign(context.Background(), tenant, c)
		require.NoError(t, err)
	}
	return &fixture{eng: eng, mem: mem, rec: rec}
}

func (f *fixture) handle(t testing.TB, evs ...reward.Event) []reward.Outcome {
	t.Helper()
	var outs []reward.Outcome
	for _, ev := range evs {
		out, err := f.eng.Handle(context.Background(), tenant, ev)
		require.NoError(t, err, ev.ID)
		outs = append(outs, out)
	}
	return outs
}

func (f *fixture) value(t testing.TB, campaign, period, participant string) int64 {
	t.Helper()
	p, err := f.eng.Progress(context.Background(), tenant, campaign, period, participant)
	if err != nil {
		require.ErrorIs(t, err, reward.ErrNoProgress)
		return 0
	}
	return p.Value
}

func (f *fixture) held(t testing.TB, campaign string) []string {
	t.Helper()
	gs, err := f.eng.Grants(context.Background(), tenant, campaign, "", "")
	require.NoError(t, err)
	var out []string
	for _, g := range gs {
		if g.Status == reward.GrantAwarded {
			out = append(out, g.Participant+":"+g.Slot)
		}
	}
	return out
}

func challenge(id string, ind reward.Indicator, tiers ...reward.Tier) reward.Campaign {
	return reward.Campaign{ID: id, Kind: reward.Challenge, Status: reward.StatusActive, Start: t0, End: t0.AddDate(0, 1, 0),
		EventTypes: []reward.EventType{reward.OrderInstalled}, Participant: reward.ParticipantUser, Indicator: ind, Tiers: tiers}
}

func order(id, user string, minute int, cents int64, lines ...reward.Line) reward.Event {
	return reward.Event{ID: id, Type: reward.OrderInstalled, Time: t0.Add(time.Duration(minute) * time.Minute), UserID: user,
		TeamID: "team-" + user[:1], ShopID: "shop-1", Region: "north", Amount: money.FromMinor(cents, money.USD), Lines: lines}
}

func afterSale(id, original string, minute int) reward.Event {
	return reward.Event{ID: id, Type: reward.AfterSale, OriginalID: original, Time: t0.Add(time.Duration(minute) * time.Minute)}
}

func TestStrategies(t *testing.T) {
	phone := reward.Line{SKU: "p1", Category: "phone", Quantity: 2}
	cases := map[string]struct {
		ind  reward.Indicator
		evs  []reward.Event
		want int64
	}{
		"order count counts orders": {reward.Indicator{Strategy: reward.OrderCount},
			[]reward.Event{order("a", "u1", 1, 100), order("b", "u1", 2, 100)}, 2},
		"order amount sums minor units": {reward.Indicator{Strategy: reward.OrderAmount, Currency: "USD"},
			[]reward.Event{order("a", "u1", 1, 1250), order("b", "u1", 2, 99)}, 1349},
		"order amount ignores other currencies": {reward.Indicator{Strategy: reward.OrderAmount, Currency: "EUR"},
			[]reward.Event{order("a", "u1", 1, 1250)}, 0},
		"product quantity weighs SKU over category": {reward.Indicator{Strategy: reward.ProductQuantity,
			SKUWeights: map[string]int64{"p1": 5}, CategoryWeights: map[string]int64{"phone": 2, "case": 1}},
			[]reward.Event{order("a", "u1", 1, 100, phone, reward.Line{SKU: "p2", Category: "phone", Quantity: 1}, reward.Line{SKU: "c", Category: "case", Quantity: 3}, reward.Line{SKU: "t", Category: "toy", Quantity: 9})},
			5*2 + 2*1 + 1*3},
		"product quantity without weights counts every unit": {reward.Indicator{Strategy: reward.ProductQuantity},
			[]reward.Event{order("a", "u1", 1, 100, phone, reward.Line{SKU: "x", Quantity: 3})}, 5},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, challenge("c", tc.ind, reward.Tier{Target: 1_000_000, Award: points(1)}))
			f.handle(t, tc.evs...)
			assert.Equal(t, tc.want, f.value(t, "c", "all", "u1"))
		})
	}

	t.Run("attendance counts distinct days", func(t *testing.T) {
		c := challenge("att", reward.Indicator{Strategy: reward.AttendanceDays}, reward.Tier{Target: 2, Award: points(5)})
		c.EventTypes = []reward.EventType{reward.Attendance}
		c.Clawback = reward.ClawbackOnReverse
		f := newFixture(t, c)
		mark := func(id string, h int) reward.Event {
			return reward.Event{ID: id, Type: reward.Attendance, UserID: "u1", Time: t0.Add(time.Duration(h) * time.Hour)}
		}
		f.handle(t, mark("in-1", 9), mark("out-1", 18), mark("in-2", 33))
		assert.Equal(t, int64(2), f.value(t, "att", "all", "u1"), "two marks on day one count once")
		assert.Equal(t, []string{"u1:tier/0"}, f.held(t, "att"))
		f.handle(t, afterSale("fix-1", "in-1", 60*40))
		assert.Equal(t, int64(2), f.value(t, "att", "all", "u1"), "day one still has a mark")
		f.handle(t, afterSale("fix-2", "out-1", 60*41))
		assert.Equal(t, int64(1), f.value(t, "att", "all", "u1"))
		assert.Empty(t, f.held(t, "att"), "dropping below the tier claws it back")
	})

	t.Run("daily period", func(t *testing.T) {
		c := challenge("daily", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 2, Award: points(5)})
		c.Period = reward.PeriodDay
		f := newFixture(t, c)
		f.handle(t, order("a", "u1", 10, 100), order("b", "u1", 20, 100), order("c", "u1", 24*60+5, 100))
		assert.Equal(t, int64(2), f.value(t, "daily", "2025-08-01", "u1"))
		assert.Equal(t, int64(1), f.value(t, "daily", "2025-08-02", "u1"))
		assert.Equal(t, []string{"u1:tier/0"}, f.held(t, "daily"))
	})
}

func TestPeriodKey(t *testing.T) {
	at := time.Date(2025, 8, 11, 23, 30, 0, 0, time.FixedZone("X", -3600))
	assert.Equal(t, "all", reward.PeriodCampaign.Key(at))
	assert.Equal(t, "2025-08-12", reward.PeriodDay.Key(at), "periods are UTC")
	assert.Equal(t, "2025-W33", reward.PeriodWeek.Key(at))
	assert.Equal(t, "2025-08", reward.PeriodMonth.Key(at))
}

func TestTiersAndClawback(t *testing.T) {
	tiers := []reward.Tier{{Target: 10, Award: points(100)}, {Target: 20, Award: points(300)}}
	orders := func(from, n int) []reward.Event {
		var evs []reward.Event
		for i := range n {
			evs = append(evs, order(fmt.Sprintf("o%d", from+i), "u1", from+i, 500))
		}
		return evs
	}

	t.Run("each tier is awarded once", func(t *testing.T) {
		f := newFixture(t, challenge("c", reward.Indicator{Strategy: reward.OrderCount}, tiers...))
		outs := f.handle(t, orders(0, 9)...)
		for _, o := range outs {
			assert.Empty(t, o.Grants)
		}
		out := f.handle(t, orders(9, 1)...)[0]
		require.Len(t, out.Grants, 1)
		assert.Equal(t, reward.ChangeAwarded, out.Grants[0].Change)
		assert.Equal(t, "tier/0", out.Grants[0].Slot)
		f.handle(t, orders(10, 15)...)
		assert.Equal(t, []string{"u1:tier/0", "u1:tier/1"}, f.held(t, "c"))
		held := f.rec.Held()
		require.Len(t, held, 2)
		total := int64(0)
		for _, a := range held {
			m, err := a.Award.Amount.Minor()
			require.NoError(t, err)
			total += m
		}
		assert.Equal(t, int64(400), total, "100 points, then 300 more")
	})

	t.Run("a reverse below a tier claws it back under ClawbackOnReverse", func(t *testing.T) {
		c := challenge("c", reward.Indicator{Strategy: reward.OrderCount}, tiers...)
		c.Clawback = reward.ClawbackOnReverse
		f := newFixture(t, c)
		f.handle(t, orders(0, 20)...)
		out := f.handle(t, afterSale("r1", "o3", 100))[0]
		require.Len(t, out.Grants, 1)
		assert.Equal(t, reward.GrantKey{Campaign: "c", Period: "all", Participant: "u1", Slot: "tier/1"}, out.Grants[0].GrantKey)
		assert.Equal(t, reward.ChangeClawedBack, out.Grants[0].Change)
		assert.Equal(t, []string{"u1:tier/0"}, f.held(t, "c"))
		granted, revoked := f.rec.Counts()
		assert.Equal(t, 2, granted)
		assert.Equal(t, 1, revoked)
		out = f.handle(t, orders(20, 1)...)[0]
		require.Len(t, out.Grants, 1)
		assert.Equal(t, int64(2), out.Grants[0].Seq, "awarded again under a new award key")
		assert.Equal(t, []string{"u1:tier/0", "u1:tier/1"}, f.held(t, "c"))
	})

	t.Run("ClawbackNever keeps awards", func(t *testing.T) {
		f := newFixture(t, challenge("c", reward.Indicator{Strategy: reward.OrderCount}, tiers...))
		f.handle(t, orders(0, 10)...)
		out := f.handle(t, afterSale("r1", "o3", 100))[0]
		assert.Empty(t, out.Grants)
		assert.Equal(t, int64(9), f.value(t, "c", "all", "u1"))
		assert.Equal(t, []string{"u1:tier/0"}, f.held(t, "c"))
	})

	t.Run("budget is never exceeded", func(t *testing.T) {
		c := challenge("c", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 1, Award: points(100)})
		c.Budget = 250
		f := newFixture(t, c)
		var refused int
		for i := range 5 {
			out := f.handle(t, order(fmt.Sprintf("o%d", i), fmt.Sprintf("u%d", i), i, 100))[0]
			for _, g := range out.Grants {
				if g.Change == reward.ChangeBudgetExhausted {
					refused++
				}
			}
		}
		assert.Len(t, f.held(t, "c"), 2)
		assert.Equal(t, 3, refused)
		spent, err := f.mem.Counter(context.Background(), tenant, reward.BudgetKey("c"))
		require.NoError(t, err)
		assert.Equal(t, int64(200), spent)
	})
}

func TestReverses(t *testing.T) {
	amount := challenge("amt", reward.Indicator{Strategy: reward.OrderAmount, Currency: "USD"}, reward.Tier{Target: 100_00, Award: points(10)})
	count := challenge("cnt", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 100, Award: points(10)})

	t.Run("a reverse before its forward waits for it", func(t *testing.T) {
		f := newFixture(t, amount, count)
		out := f.handle(t, afterSale("r1", "o1", 30))[0]
		assert.True(t, out.Pending)
		assert.Empty(t, out.Counted)
		out = f.handle(t, order("o1", "u1", 10, 4000))[0]
		assert.Equal(t, []string{"r1"}, out.Released)
		assert.Equal(t, int64(0), f.value(t, "amt", "all", "u1"))
		assert.Equal(t, int64(0), f.value(t, "cnt", "all", "u1"))
		p, err := f.eng.Progress(context.Background(), tenant, "amt", "all", "u1")
		require.NoError(t, err)
		assert.True(t, p.ReachedAt.Equal(t0.Add(30*time.Minute)), "the reverse's event time")
	})

	t.Run("partial refunds take back at most what the order gave", func(t *testing.T) {
		f := newFixture(t, amount, count)
		f.handle(t, order("o1", "u1", 10, 4000))
		part := afterSale("r1", "o1", 20)
		part.Amount = money.FromMinor(1500, money.USD)
		f.handle(t, part)
		assert.Equal(t, int64(2500), f.value(t, "amt", "all", "u1"))
		assert.Equal(t, int64(1), f.value(t, "cnt", "all", "u1"), "a partial refund keeps the order counted")
		part2 := afterSale("r2", "o1", 21)
		part2.Amount = money.FromMinor(9000, money.USD)
		f.handle(t, part2)
		assert.Equal(t, int64(0), f.value(t, "amt", "all", "u1"))
		f.handle(t, afterSale("r3", "o1", 22))
		assert.Equal(t, int64(0), f.value(t, "cnt", "all", "u1"))
		assert.Equal(t, int64(0), f.value(t, "amt", "all", "u1"), "never below what the order gave")
	})

	t.Run("duplicates count once", func(t *testing.T) {
		f := newFixture(t, amount)
		o := order("o1", "u1", 10, 4000)
		first := f.handle(t, o, o, o)
		assert.Equal(t, first[0], first[2], "a redelivery returns the first outcome")
		assert.Equal(t, int64(4000), f.value(t, "amt", "all", "u1"))
		changed := o
		changed.Amount = money.FromMinor(1, money.USD)
		_, err := f.eng.Handle(context.Background(), tenant, changed)
		require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
	})
}

func TestBadInput(t *testing.T) {
	f := newFixture(t, challenge("c", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 1, Award: points(1)}))
	good := order("o1", "u1", 1, 100)
	cases := map[string]struct {
		mutate func(*reward.Event)
		want   error
	}{
		"missing ID":             {func(e *reward.Event) { e.ID = "" }, reward.ErrMissingEventID},
		"unknown type":           {func(e *reward.Event) { e.Type = "teleported" }, reward.ErrUnknownEventType},
		"missing time":           {func(e *reward.Event) { e.Time = time.Time{} }, reward.ErrMalformedEvent},
		"reverse without origin": {func(e *reward.Event) { e.Type = reward.AfterSale }, reward.ErrMalformedEvent},
		"forward with origin":    {func(e *reward.Event) { e.OriginalID = "x" }, reward.ErrMalformedEvent},
		"negative amount":        {func(e *reward.Event) { e.Amount = money.FromMinor(-1, money.USD) }, reward.ErrMalformedEvent},
		"negative quantity":      {func(e *reward.Event) { e.Lines = []reward.Line{{SKU: "a", Quantity: -1}} }, reward.ErrMalformedEvent},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ev := good
			tc.mutate(&ev)
			_, err := f.eng.Handle(context.Background(), tenant, ev)
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, reward.ErrInvalidEvent)
			var ee *reward.EventError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, int64(0), f.value(t, "c", "all", "u1"), "counts nothing")
		})
	}
	t.Run("malformed payloads", func(t *testing.T) {
		for _, p := range []string{`{`, `{"id":"x","type":"order_installed","time":"2025-08-01T00:00:00Z","bogus":1}`, `{"id":"x"} {}`, `[]`,
			`{"id":"x","type":"order_installed","time":"2025-08-01T00:00:00Z","amount":{"amount":"1.234","currency":"USD"}}`} {
			_, err := f.eng.HandleJSON(context.Background(), tenant, []byte(p))
			require.ErrorIs(t, err, reward.ErrMalformedEvent, p)
		}
		_, err := f.eng.HandleJSON(context.Background(), tenant, []byte(`{"type":"order_installed","time":"2025-08-01T00:00:00Z"}`))
		require.ErrorIs(t, err, reward.ErrMissingEventID)
	})
	t.Run("a refused event can be sent again corrected", func(t *testing.T) {
		ev := good
		ev.Time = time.Time{}
		_, err := f.eng.Handle(context.Background(), tenant, ev)
		require.Error(t, err)
		f.handle(t, good)
		assert.Equal(t, int64(1), f.value(t, "c", "all", "u1"))
	})
	t.Run("bad tenant", func(t *testing.T) {
		_, err := f.eng.Handle(context.Background(), "", good)
		require.ErrorIs(t, err, storage.ErrInvalidTenant)
	})
	t.Run("custom types", func(t *testing.T) {
		mem := memory.MustNew()
		eng, err := reward.New(reward.Config{Store: mem.Rewards(), Tx: mem, EventTypes: []reward.EventType{"review_posted"}, ReverseTypes: []reward.EventType{"review_removed"}})
		require.NoError(t, err)
		_, err = eng.HandleJSON(context.Background(), tenant, []byte(`{"id":"r","type":"review_removed","original_id":"x","time":"2025-08-01T00:00:00Z"}`))
		require.NoError(t, err)
		_, err = eng.HandleJSON(context.Background(), tenant, []byte(`{"id":"p","type":"review_posted","time":"2025-08-01T00:00:00Z"}`))
		require.NoError(t, err)
	})
}

func TestMatching(t *testing.T) {
	minAmount, err := rules.MinOrderAmount(money.MustParse("20", money.USD)).Definition("min-amount")
	require.NoError(t, err)
	region, err := rules.RegionIn("east").Definition("region")
	require.NoError(t, err)
	c := challenge("c", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 5, Award: points(1)})
	c.Rules = []rules.Definition{minAmount, region}
	c.Participants = []string{"u1", "u2"}
	other := challenge("other", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 5, Award: points(1)})
	other.EventTypes = []reward.EventType{reward.ShopReceived}
	f := newFixture(t, c, other)

	out := f.handle(t, order("o1", "u1", 1, 1000))[0]
	require.Len(t, out.Skipped, 1, "only campaigns listening to the type are matched")
	assert.Equal(t, "c", out.Skipped[0].Campaign)
	assert.Len(t, out.Skipped[0].Reasons, 1, "Handle stops at the first failing rule")

	v, err := f.eng.Explain(context.Background(), tenant, order("o2", "u9", 1, 1000))
	require.NoError(t, err)
	require.Len(t, v, 1)
	assert.False(t, v[0].Counts)
	assert.Len(t, v[0].Reasons, 3, "not a participant, amount below 20, region not east: %v", v[0].Reasons)

	late := order("o3", "u1", 60*24*40, 5000)
	late.Region = "east"
	v, err = f.eng.Explain(context.Background(), tenant, late)
	require.NoError(t, err)
	assert.Contains(t, v[0].Reasons[0], "outside the campaign window")

	ok := order("o4", "u2", 5, 5000)
	ok.Region = "east"
	v, err = f.eng.Explain(context.Background(), tenant, ok)
	require.NoError(t, err)
	assert.True(t, v[0].Counts)
	assert.Equal(t, int64(1), v[0].Delta)
	assert.Equal(t, int64(0), f.value(t, "c", "all", "u2"), "Explain writes nothing")

	v, err = f.eng.Explain(context.Background(), tenant, reward.Event{ID: "x", Type: reward.PropertyTransferred, Time: t0})
	require.NoError(t, err)
	assert.Contains(t, v[0].Reasons[0], "no active campaign")
}

func TestCampaignValidation(t *testing.T) {
	good := challenge("c", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 5, Award: points(1)})
	cases := map[string]func(*reward.Campaign){
		"no ID":           func(c *reward.Campaign) { c.ID = "" },
		"empty window":    func(c *reward.Campaign) { c.End = c.Start },
		"no types":        func(c *reward.Campaign) { c.EventTypes = nil },
		"bad participant": func(c *reward.Campaign) { c.Participant = "alien" },
		"amount w/o curr": func(c *reward.Campaign) { c.Indicator = reward.Indicator{Strategy: reward.OrderAmount} },
		"tiers descend":   func(c *reward.Campaign) { c.Tiers = append(c.Tiers, reward.Tier{Target: 2, Award: points(1)}) },
		"no tiers":        func(c *reward.Campaign) { c.Tiers = nil },
		"coupon w/o cost": func(c *reward.Campaign) {
			c.Tiers[0].Award = reward.Award{Kind: reward.AwardCoupon, Template: "t", Quantity: 1}
		},
		"ranking by day": func(c *reward.Campaign) { c.Kind, c.TopN, c.Period = reward.Ranking, 10, reward.PeriodDay },
		"rank band too far": func(c *reward.Campaign) {
			c.Kind, c.TopN, c.RankRewards = reward.Ranking, 3, []reward.RankReward{{From: 1, To: 5, Award: points(1)}}
		},
		"bad rule": func(c *reward.Campaign) { c.Rules = []rules.Definition{{ID: "r", Expr: "order.amount >"}} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := good.Clone()
			c.Tiers = append([]reward.Tier(nil), good.Tiers...)
			mutate(&c)
			f := newFixture(t)
			_, err := f.eng.PutCampaign(context.Background(), tenant, c)
			require.ErrorIs(t, err, reward.ErrInvalidCampaign)
			_, err = f.eng.Campaign(context.Background(), tenant, c.ID)
			require.Error(t, err, "nothing stored")
		})
	}
	t.Run("versions", func(t *testing.T) {
		f := newFixture(t)
		c, err := f.eng.PutCampaign(context.Background(), tenant, good)
		require.NoError(t, err)
		_, err = f.eng.PutCampaign(context.Background(), tenant, good)
		require.ErrorIs(t, err, storage.ErrConflict)
		c.Name = "v2"
		_, err = f.eng.PutCampaign(context.Background(), tenant, c)
		require.NoError(t, err)
	})
}

func ranking(id string, who reward.ParticipantKind) reward.Campaign {
	return reward.Campaign{ID: id, Kind: reward.Ranking, Status: reward.StatusActive, Start: t0, End: t0.AddDate(0, 1, 0),
		EventTypes: []reward.EventType{reward.OrderInstalled}, Participant: who, Indicator: reward.Indicator{Strategy: reward.OrderCount},
		TopN: 3, RankRewards: []reward.RankReward{{From: 1, To: 1, Award: points(500)}, {From: 2, To: 3, Award: points(100)}}}
}

func TestRanking(t *testing.T) {
	ctx := context.Background()
	t.Run("ties go to the earlier reach, then the participant ID", func(t *testing.T) {
		f := newFixture(t, ranking("pk", reward.ParticipantUser))
		// Delivered out of order: ranks follow event time, not arrival.
		f.handle(t, order("c2", "carol", 50, 100), order("b1", "bob", 10, 100), order("a1", "alice", 20, 100),
			order("b2", "bob", 40, 100), order("a2", "alice", 30, 100), order("d1", "dave", 40, 100), order("c1", "carol", 5, 100),
			order("e1", "erin", 40, 100))
		board, err := f.eng.Leaderboard(ctx, tenant, "pk", 10)
		require.NoError(t, err)
		var names []string
		for _, s := range board {
			names = append(names, fmt.Sprintf("%d:%s=%d", s.Rank, s.Participant, s.Value))
		}
		assert.Equal(t, []string{"1:alice=2", "2:bob=2", "3:carol=2", "4:dave=1", "5:erin=1"}, names)
		st, err := f.eng.Rank(ctx, tenant, "pk", "erin")
		require.NoError(t, err)
		assert.Equal(t, 5, st.Rank)
		_, err = f.eng.Rank(ctx, tenant, "pk", "zed")
		require.ErrorIs(t, err, reward.ErrNoProgress)

		set, err := f.eng.Close(ctx, tenant, "pk")
		require.NoError(t, err)
		require.Len(t, set.Grants, 3)
		assert.Equal(t, "alice", set.Grants[0].Participant)
		assert.True(t, set.Grants[0].Award.Amount.Equal(money.FromMinor(500, pts)))
		assert.Equal(t, []string{"alice:rank/1", "bob:rank/2", "carol:rank/3"}, f.held(t, "pk"))
		_, err = f.eng.Close(ctx, tenant, "pk")
		require.ErrorIs(t, err, reward.ErrCampaignState, "settled once")
		out := f.handle(t, order("late", "dave", 60, 100))[0]
		assert.Empty(t, out.Counted, "a closed campaign counts nothing")
	})

	t.Run("team mode", func(t *testing.T) {
		f := newFixture(t, ranking("teams", reward.ParticipantTeam))
		f.handle(t, order("1", "ann", 1, 100), order("2", "amy", 2, 100), order("3", "bea", 3, 100))
		board, err := f.eng.Leaderboard(ctx, tenant, "teams", 0)
		require.NoError(t, err)
		require.Len(t, board, 2)
		assert.Equal(t, "team-a", board[0].Participant)
		assert.Equal(t, int64(2), board[0].Value)
	})

	t.Run("not a ranking", func(t *testing.T) {
		f := newFixture(t, challenge("c", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 1, Award: points(1)}))
		_, err := f.eng.Leaderboard(ctx, tenant, "c", 5)
		require.ErrorIs(t, err, reward.ErrNotRanking)
		_, err = f.eng.Leaderboard(ctx, tenant, "nope", 5)
		require.ErrorIs(t, err, reward.ErrCampaignNotFound)
	})
}

func TestDryRun(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	draft := challenge("draft", reward.Indicator{Strategy: reward.OrderCount}, reward.Tier{Target: 2, Award: points(100)}, reward.Tier{Target: 3, Award: points(50)})
	draft.Clawback = reward.ClawbackOnReverse
	evs := []reward.Event{order("o3", "u1", 3, 100), order("o1", "u1", 1, 100), order("o2", "u1", 2, 100), order("o2", "u1", 2, 100),
		order("p1", "u2", 1, 100), order("p2", "u2", 2, 100), afterSale("r", "p1", 9), {ID: "", Type: reward.OrderInstalled}}
	rep, err := f.eng.DryRun(ctx, draft, evs)
	require.NoError(t, err)
	assert.Equal(t, 8, rep.Events)
	assert.Equal(t, 1, rep.Invalid)
	require.Len(t, rep.Awards, 2, "u1 holds both tiers; u2's tier was clawed back")
	assert.Equal(t, int64(150), rep.TotalCost)
	require.Len(t, rep.Totals, 1)
	assert.True(t, rep.Totals[0].Equal(money.FromMinor(150, pts)))
	_, err = f.eng.Campaign(ctx, tenant, "draft")
	require.ErrorIs(t, err, reward.ErrCampaignNotFound, "a dry run writes nothing")
	granted, _ := f.rec.Counts()
	assert.Zero(t, granted, "and calls no Awarder")

	bad := draft
	bad.Tiers = nil
	_, err = f.eng.DryRun(ctx, bad, evs)
	require.ErrorIs(t, err, reward.ErrInvalidCampaign)
}
