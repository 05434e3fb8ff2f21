package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

func rewardStore(t *testing.T, s Store) reward.Store {
	t.Helper()
	return s.Rewards()
}

var rwT0 = time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)

func rwCampaign(id string) reward.Campaign {
	return reward.Campaign{
		ID: id, Kind: reward.Challenge, Status: reward.StatusActive,
		Start: rwT0, End: rwT0.AddDate(0, 1, 0),
		EventTypes:  []reward.EventType{reward.OrderInstalled},
		Participant: reward.ParticipantUser,
		Indicator:   reward.Indicator{Strategy: reward.OrderCount},
		Period:      reward.PeriodCampaign,
		Clawback:    reward.ClawbackOnReverse,
		Tiers:       []reward.Tier{{Target: 1, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(10, rwPoints)}}},
	}
}

var rwPoints = money.MustCurrency("POINTS", 0)

// RunReward checks package reward's store: campaigns and their index,
// event records with parked reverses, progress and rank order, grants,
// rollback, and, through a reward.Engine, that a shuffled stream with
// duplicates and reverses consumed by concurrent workers on two instances
// ends exactly where a sequential replay in event-time order does.
func RunReward(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("campaigns", func(t *testing.T) {
		rs := rewardStore(t, h.Open(t))
		c := rwCampaign("c1")
		got, err := rs.PutCampaign(ctx, tenantA, c)
		require.NoError(t, err)
		assert.Equal(t, int64(1), got.Version)
		_, err = rs.PutCampaign(ctx, tenantA, c)
		require.ErrorIs(t, err, storage.ErrConflict, "a stale version is refused")
		c.Version, c.Name = 1, "renamed"
		got, err = rs.PutCampaign(ctx, tenantA, c)
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.Version)
		back, err := rs.Campaign(ctx, tenantA, "c1")
		require.NoError(t, err)
		assert.Equal(t, "renamed", back.Name)
		assert.Equal(t, c.Tiers, back.Tiers)
		assert.True(t, back.Start.Equal(c.Start))
		_, err = rs.Campaign(ctx, tenantB, "c1")
		require.ErrorIs(t, err, reward.ErrCampaignNotFound)

		d := rwCampaign("c0")
		d.Status = reward.StatusDraft
		d.EventTypes = []reward.EventType{reward.OrderInstalled, reward.Attendance}
		_, err = rs.PutCampaign(ctx, tenantA, d)
		require.NoError(t, err)
		act, err := rs.ActiveCampaigns(ctx, tenantA, reward.OrderInstalled)
		require.NoError(t, err)
		require.Len(t, act, 1, "drafts are not active")
		ok, err := rs.SetCampaignStatus(ctx, tenantA, "c0", reward.StatusDraft, reward.StatusActive)
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = rs.SetCampaignStatus(ctx, tenantA, "c0", reward.StatusDraft, reward.StatusActive)
		require.NoError(t, err)
		assert.False(t, ok, "the status change is conditional")
		act, err = rs.ActiveCampaigns(ctx, tenantA, reward.OrderInstalled)
		require.NoError(t, err)
		require.Len(t, act, 2)
		assert.Equal(t, "c0", act[0].ID, "ordered by ID")
		act, err = rs.ActiveCampaigns(ctx, tenantA, reward.Attendance)
		require.NoError(t, err)
		require.Len(t, act, 1, "indexed by event type")
		act, err = rs.ActiveCampaigns(ctx, tenantB, reward.OrderInstalled)
		require.NoError(t, err)
		assert.Empty(t, act)
		_, err = rs.SetCampaignStatus(ctx, tenantA, "nope", reward.StatusDraft, reward.StatusActive)
		require.ErrorIs(t, err, reward.ErrCampaignNotFound)
	})

	t.Run("events park reverses until their forward is saved", func(t *testing.T) {
		rs := rewardStore(t, h.Open(t))
		rev := reward.Event{ID: "r1", Type: reward.AfterSale, Time: rwT0, OriginalID: "f1"}
		_, found, err := rs.LinkReverse(ctx, tenantA, "f1", rev)
		require.NoError(t, err)
		assert.False(t, found)
		rev2 := rev
		rev2.ID = "r2"
		_, _, err = rs.LinkReverse(ctx, tenantA, "f1", rev2)
		require.NoError(t, err)
		rec := reward.EventRecord{ID: "f1", Type: reward.OrderInstalled, Time: rwT0, Flows: []reward.Flow{{Campaign: "c", Participant: "u", Period: "all", Delta: 3}}}
		parked, err := rs.SaveEvent(ctx, tenantA, rec)
		require.NoError(t, err)
		require.Len(t, parked, 2)
		ids := []string{parked[0].ID, parked[1].ID}
		slices.Sort(ids)
		assert.Equal(t, []string{"r1", "r2"}, ids)
		assert.True(t, parked[0].Time.Equal(rwT0))
		_, err = rs.SaveEvent(ctx, tenantA, rec)
		require.ErrorIs(t, err, storage.ErrDuplicate)
		got, found, err := rs.LinkReverse(ctx, tenantA, "f1", rev)
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, rec.Flows, got.Flows)
		flows := slices.Clone(rec.Flows)
		flows[0].Reversed = 2
		require.NoError(t, rs.UpdateEventFlows(ctx, tenantA, "f1", flows))
		got, _, err = rs.LinkReverse(ctx, tenantA, "f1", rev)
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.Flows[0].Reversed)
		require.ErrorIs(t, rs.UpdateEventFlows(ctx, tenantA, "zz", flows), storage.ErrNotFound)
		_, found, err = rs.LinkReverse(ctx, tenantB, "f1", rev)
		require.NoError(t, err)
		assert.False(t, found, "tenants are isolated")
	})

	t.Run("progress, leaderboard and rank", func(t *testing.T) {
		rs := rewardStore(t, h.Open(t))
		k := func(p string) reward.ProgressKey {
			return reward.ProgressKey{Campaign: "c", Period: "all", Participant: p}
		}
		at := func(m int) time.Time { return rwT0.Add(time.Duration(m) * time.Minute) }
		steps := []struct {
			p     string
			delta int64
			at    int
		}{{"b", 5, 3}, {"a", 5, 2}, {"c", 7, 9}, {"d", 5, 2}, {"b", 1, 1}, {"b", -1, 4}, {"e", 2, 5}, {"e", -2, 6}}
		for _, s := range steps {
			_, err := rs.AddProgress(ctx, tenantA, k(s.p), s.delta, at(s.at))
			require.NoError(t, err)
		}
		p, err := rs.Progress(ctx, tenantA, k("b"))
		require.NoError(t, err)
		assert.Equal(t, int64(5), p.Value)
		assert.True(t, p.ReachedAt.Equal(at(4)), "ReachedAt is the latest event time of a change, whatever the arrival order")
		top, err := rs.Leaderboard(ctx, tenantA, "c", "all", 10)
		require.NoError(t, err)
		var order []string
		for _, r := range top {
			order = append(order, r.Participant)
		}
		assert.Equal(t, []string{"c", "a", "d", "b", "e"}, order, "value desc, reached asc, participant asc")
		top, err = rs.Leaderboard(ctx, tenantA, "c", "all", 2)
		require.NoError(t, err)
		assert.Len(t, top, 2)
		for i, want := range order {
			r, p, err := rs.Rank(ctx, tenantA, k(want))
			require.NoError(t, err)
			assert.Equal(t, i+1, r, want)
			assert.Equal(t, want, p.Participant)
		}
		_, _, err = rs.Rank(ctx, tenantA, k("zz"))
		require.ErrorIs(t, err, reward.ErrNoProgress)
		_, err = rs.Progress(ctx, tenantB, k("a"))
		require.ErrorIs(t, err, reward.ErrNoProgress)
		page, err := rs.ListProgress(ctx, tenantA, "c", "all", "", 2)
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, "a", page[0].Participant)
		page, err = rs.ListProgress(ctx, tenantA, "c", "all", page[1].Participant, 10)
		require.NoError(t, err)
		assert.Len(t, page, 3)
	})

	t.Run("grants", func(t *testing.T) {
		rs := rewardStore(t, h.Open(t))
		key := reward.GrantKey{Campaign: "c", Period: "all", Participant: "u", Slot: "tier/0"}
		aw := reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(100, rwPoints)}
		g, ok, err := rs.ClaimGrant(ctx, tenantA, reward.Grant{GrantKey: key, Award: aw, EventID: "e1", At: rwT0})
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int64(1), g.Seq)
		_, ok, err = rs.ClaimGrant(ctx, tenantA, reward.Grant{GrantKey: key, Award: aw, At: rwT0})
		require.NoError(t, err)
		assert.False(t, ok, "a slot is awarded once")
		require.NoError(t, rs.SetGrantRef(ctx, tenantA, key, "ledger-tx-1"))
		g, ok, err = rs.RevokeGrant(ctx, tenantA, key, rwT0.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, reward.GrantClawedBack, g.Status)
		assert.Equal(t, "ledger-tx-1", g.Ref)
		_, ok, err = rs.RevokeGrant(ctx, tenantA, key, rwT0)
		require.NoError(t, err)
		assert.False(t, ok)
		g, ok, err = rs.ClaimGrant(ctx, tenantA, reward.Grant{GrantKey: key, Award: aw, At: rwT0})
		require.NoError(t, err)
		require.True(t, ok, "a clawed-back slot can be awarded again")
		assert.Equal(t, int64(2), g.Seq)
		key2 := key
		key2.Participant = "v"
		_, _, err = rs.ClaimGrant(ctx, tenantA, reward.Grant{GrantKey: key2, Award: aw, At: rwT0})
		require.NoError(t, err)
		all, err := rs.Grants(ctx, tenantA, "c", "", "")
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, "u", all[0].Participant)
		assert.True(t, all[0].Award.Amount.Equal(aw.Amount))
		one, err := rs.Grants(ctx, tenantA, "c", "all", "v")
		require.NoError(t, err)
		assert.Len(t, one, 1)
		none, err := rs.Grants(ctx, tenantB, "c", "", "")
		require.NoError(t, err)
		assert.Empty(t, none)
		_, _, err = rs.RevokeGrant(ctx, tenantA, reward.GrantKey{Campaign: "c", Slot: "x"}, rwT0)
		require.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("rollback takes everything back", func(t *testing.T) {
		s := h.Open(t)
		rs := rewardStore(t, s)
		boom := errors.New("boom")
		k := reward.ProgressKey{Campaign: "c", Period: "all", Participant: "u"}
		err := s.InTx(ctx, func(ctx context.Context) error {
			if _, err := rs.PutCampaign(ctx, tenantA, rwCampaign("c")); err != nil {
				return err
			}
			if _, err := rs.AddProgress(ctx, tenantA, k, 5, rwT0); err != nil {
				return err
			}
			if _, _, err := rs.ClaimGrant(ctx, tenantA, reward.Grant{GrantKey: reward.GrantKey{Campaign: "c", Period: "all", Participant: "u", Slot: "s"}, At: rwT0}); err != nil {
				return err
			}
			if _, err := rs.SaveEvent(ctx, tenantA, reward.EventRecord{ID: "e", Type: reward.OrderInstalled, Time: rwT0}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = rs.Campaign(ctx, tenantA, "c")
		require.ErrorIs(t, err, reward.ErrCampaignNotFound)
		_, err = rs.Progress(ctx, tenantA, k)
		require.ErrorIs(t, err, reward.ErrNoProgress)
		top, err := rs.Leaderboard(ctx, tenantA, "c", "all", 10)
		require.NoError(t, err)
		assert.Empty(t, top)
		gs, err := rs.Grants(ctx, tenantA, "c", "", "")
		require.NoError(t, err)
		assert.Empty(t, gs)
		_, found, err := rs.LinkReverse(ctx, tenantA, "e", reward.Event{ID: "r", Type: reward.AfterSale, Time: rwT0, OriginalID: "e"})
		require.NoError(t, err)
		assert.False(t, found)
	})

	t.Run("concurrent consumers end like a sequential replay", func(t *testing.T) {
		n := 10_000
		switch {
		case h.RewardEvents > 0:
			n = h.RewardEvents
		case testing.Short():
			n = 1_500
		}
		RunRewardStream(t, h, n, 8)
	})
	t.Run("Loyalty", func(t *testing.T) { RunLoyalty(t, h) })
}

// RunRewardStream generates deliveries events (forward events, reverses,
// some arriving before their forward, and duplicates), replays the unique
// events sequentially in event-time order on one store, delivers the
// shuffled stream through consumers goroutines on two instances of
// another, and checks that progress, ranks and tier awards agree and that
// the budget cap holds.
func RunRewardStream(t *testing.T, h Harness, deliveries, consumers int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	events := rwStream(rng, deliveries)
	camps := rwCampaigns(t)

	seq := h.Open(t)
	seqEng, _ := rwEngine(t, seq, camps)
	unique := map[string]reward.Event{}
	for _, ev := range events {
		unique[ev.ID] = ev
	}
	ordered := make([]reward.Event, 0, len(unique))
	for _, ev := range unique {
		ordered = append(ordered, ev)
	}
	slices.SortFunc(ordered, func(a, b reward.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return rwCmp(a.ID, b.ID)
	})
	for _, ev := range ordered {
		_, err := seqEng.Handle(ctx, tenantA, ev)
		require.NoError(t, err, ev.ID)
	}

	s1 := h.Open(t)
	s2 := h.second(t, s1)
	e1, rec := rwEngine(t, s1, camps)
	e2, err := reward.New(reward.Config{Store: rewardStore(t, s2), Tx: s2, Awarder: rec})
	require.NoError(t, err)
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	work := make(chan reward.Event)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var parked, released, clawed int
	for g := range consumers {
		eng := e1
		if g%2 == 1 {
			eng = e2
		}
		wg.Go(func() {
			for ev := range work {
				// At-least-once delivery: a failed event (a lock timeout on a
				// busy machine) is delivered again, as a queue would.
				out, err := eng.Handle(ctx, tenantA, ev)
				for try := 0; err != nil && try < 20; try++ {
					time.Sleep(time.Duration(10*(try+1)) * time.Millisecond)
					out, err = eng.Handle(ctx, tenantA, ev)
				}
				if !assert.NoError(t, err, ev.ID) {
					continue
				}
				mu.Lock()
				if out.Pending {
					parked++
				}
				released += len(out.Released)
				for _, g := range out.Grants {
					if g.Change == reward.ChangeClawedBack {
						clawed++
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, ev := range events {
		work <- ev
	}
	close(work)
	wg.Wait()
	assert.Positive(t, parked, "some reverses arrived before their forward event")
	assert.Positive(t, released, "parked reverses were released")
	assert.Positive(t, clawed, "some reverses clawed awards back")

	rsSeq, rsCon := rewardStore(t, seq), rewardStore(t, s1)
	for _, c := range camps {
		periods := []string{"all"}
		if c.Period == reward.PeriodDay {
			periods = periods[:0]
			for d := range 31 {
				periods = append(periods, rwT0.AddDate(0, 0, d).Format(time.DateOnly))
			}
		}
		for _, period := range periods {
			want := rwAllProgress(t, rsSeq, c.ID, period)
			got := rwAllProgress(t, rsCon, c.ID, period)
			require.Equal(t, len(want), len(got), "%s/%s rows", c.ID, period)
			for i := range want {
				assert.Equal(t, want[i].Participant, got[i].Participant)
				assert.Equal(t, want[i].Value, got[i].Value, "%s/%s/%s value", c.ID, period, want[i].Participant)
				assert.True(t, want[i].ReachedAt.Equal(got[i].ReachedAt), "%s/%s/%s reached at", c.ID, period, want[i].Participant)
			}
			if c.Kind == reward.Ranking {
				wt, err := rsSeq.Leaderboard(ctx, tenantA, c.ID, period, 100)
				require.NoError(t, err)
				gt, err := rsCon.Leaderboard(ctx, tenantA, c.ID, period, 100)
				require.NoError(t, err)
				require.Equal(t, len(wt), len(gt))
				for i := range wt {
					assert.Equal(t, wt[i].Participant, gt[i].Participant, "%s rank %d", c.ID, i+1)
				}
				if len(gt) > 0 {
					r, _, err := rsCon.Rank(ctx, tenantA, reward.ProgressKey{Campaign: c.ID, Period: period, Participant: gt[len(gt)-1].Participant})
					require.NoError(t, err)
					assert.Equal(t, len(gt), r)
				}
			}
		}
		wg, err := rsSeq.Grants(ctx, tenantA, c.ID, "", "")
		require.NoError(t, err)
		gg, err := rsCon.Grants(ctx, tenantA, c.ID, "", "")
		require.NoError(t, err)
		if c.Budget > 0 {
			spent, err := rsCon.Counter(ctx, tenantA, reward.BudgetKey(c.ID))
			require.NoError(t, err)
			assert.LessOrEqual(t, spent, c.Budget, "%s budget", c.ID)
			var cost int64
			for _, g := range gg {
				if g.Status == reward.GrantAwarded {
					cost += g.Award.BudgetCost()
				}
			}
			assert.Equal(t, spent, cost, "%s: spent budget equals the awards held", c.ID)
			continue // which awards fit a binding budget depends on arrival order
		}
		assert.Equal(t, rwHeld(wg), rwHeld(gg), "%s awards held", c.ID)
	}
	held := map[string]bool{}
	for _, a := range rec.Held() {
		held[a.Key] = true
	}
	for _, c := range camps {
		gg, err := rsCon.Grants(ctx, tenantA, c.ID, "", "")
		require.NoError(t, err)
		for _, g := range gg {
			if g.Status == reward.GrantAwarded {
				assert.True(t, held[g.AwardKey()], "awarder holds %s", g.AwardKey())
			}
		}
	}
}

func rwCmp(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func rwHeld(gs []reward.Grant) []string {
	var out []string
	for _, g := range gs {
		if g.Status == reward.GrantAwarded {
			out = append(out, g.Period+"/"+g.Participant+"/"+g.Slot)
		}
	}
	return out
}

func rwAllProgress(t *testing.T, rs reward.Store, campaign, period string) []reward.Progress {
	var out []reward.Progress
	after := ""
	for {
		page, err := rs.ListProgress(context.Background(), tenantA, campaign, period, after, 500)
		require.NoError(t, err)
		out = append(out, page...)
		if len(page) < 500 {
			return out
		}
		after = page[len(page)-1].Participant
	}
}

func rwEngine(t *testing.T, s Store, camps []reward.Campaign) (*reward.Engine, *reward.Recorder) {
	rec := &reward.Recorder{}
	eng, err := reward.New(reward.Config{Store: rewardStore(t, s), Tx: s, Awarder: rec})
	require.NoError(t, err)
	for _, c := range camps {
		_, err := eng.PutCampaign(context.Background(), tenantA, c)
		require.NoError(t, err)
	}
	return eng, rec
}

func rwCampaigns(t *testing.T) []reward.Campaign {
	pts := func(n int64) reward.Award {
		return reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(n, rwPoints)}
	}
	base := func(id string, kind reward.Kind, who reward.ParticipantKind, ind reward.Indicator) reward.Campaign {
		return reward.Campaign{ID: id, Kind: kind, Status: reward.StatusActive, Start: rwT0, End: rwT0.AddDate(0, 1, 0),
			EventTypes: []reward.EventType{reward.OrderInstalled}, Participant: who, Indicator: ind, Clawback: reward.ClawbackOnReverse}
	}
	count := base("count", reward.Challenge, reward.ParticipantUser, reward.Indicator{Strategy: reward.OrderCount})
	count.Tiers = []reward.Tier{{Target: 10, Award: pts(100)}, {Target: 20, Award: pts(300)}, {Target: 40, Award: pts(500)}}
	minAmount, err := rules.MinOrderAmount(money.MustParse("20", money.USD)).Definition("min-amount")
	require.NoError(t, err)
	region, err := rules.RegionIn("north", "east").Definition("region")
	require.NoError(t, err)
	amount := base("amount", reward.Challenge, reward.ParticipantStaff, reward.Indicator{Strategy: reward.OrderAmount, Currency: "USD"})
	amount.Rules = []rules.Definition{minAmount, region}
	amount.Period = reward.PeriodDay
	amount.Tiers = []reward.Tier{{Target: 50_00, Award: pts(50)}, {Target: 200_00, Award: pts(200)}}
	product := base("product", reward.Challenge, reward.ParticipantShop, reward.Indicator{Strategy: reward.ProductQuantity,
		SKUWeights: map[string]int64{"sku-1": 3}, CategoryWeights: map[string]int64{"phone": 2, "case": 1}})
	product.Tiers = []reward.Tier{{Target: 100, Award: pts(10)}, {Target: 400, Award: pts(40)}}
	budget := base("budget", reward.Challenge, reward.ParticipantUser, reward.Indicator{Strategy: reward.OrderCount})
	budget.Tiers = []reward.Tier{{Target: 5, Award: pts(10)}, {Target: 15, Award: pts(30)}}
	budget.Budget = 1000
	attend := base("attend", reward.Challenge, reward.ParticipantUser, reward.Indicator{Strategy: reward.AttendanceDays})
	attend.EventTypes = []reward.EventType{reward.Attendance}
	attend.Tiers = []reward.Tier{{Target: 3, Award: pts(5)}, {Target: 10, Award: pts(20)}}
	rankUser := base("rank-user", reward.Ranking, reward.ParticipantUser, reward.Indicator{Strategy: reward.OrderAmount, Currency: "USD"})
	rankUser.TopN = 10
	rankUser.RankRewards = []reward.RankReward{{From: 1, To: 1, Award: pts(1000)}, {From: 2, To: 10, Award: pts(100)}}
	rankTeam := base("rank-team", reward.Ranking, reward.ParticipantTeam, reward.Indicator{Strategy: reward.OrderCount})
	rankTeam.TopN = 5
	return []reward.Campaign{count, amount, product, budget, attend, rankUser, rankTeam}
}

// rwStream returns n deliveries: about 10% duplicates, 10% reverses (full
// or partial, some of them arriving before their forward event), the rest
// forward orders and attendance marks.
func rwStream(rng *rand.Rand, n int) []reward.Event {
	var out []reward.Event
	var forwards []reward.Event
	regions := []string{"north", "east", "south"}
	skus := []struct{ sku, cat string }{{"sku-1", "phone"}, {"sku-2", "phone"}, {"sku-3", "case"}, {"sku-4", "toy"}}
	for i := 0; len(out) < n; i++ {
		at := rwT0.Add(time.Duration(rng.IntN(30*24*3600)) * time.Second)
		switch r := rng.IntN(100); {
		case r < 10 && len(out) > 0:
			out = append(out, out[rng.IntN(len(out))]) // a duplicate delivery
		case r < 20 && len(forwards) > 0:
			f := forwards[rng.IntN(len(forwards))]
			rev := reward.Event{ID: fmt.Sprintf("rev-%d", i), Type: reward.AfterSale, OriginalID: f.ID,
				Time: f.Time.Add(time.Duration(1+rng.IntN(3600)) * time.Second)}
			if rng.IntN(2) == 0 && f.Type == reward.OrderInstalled {
				rev.Amount = money.FromMinor(1+rng.Int64N(5000), money.USD)
				rev.Lines = []reward.Line{{SKU: f.Lines[0].SKU, Category: f.Lines[0].Category, Quantity: 1}}
			}
			out = append(out, rev)
		case r < 28:
			u := rng.IntN(150)
			ev := reward.Event{ID: fmt.Sprintf("att-%d", i), Type: reward.Attendance, Time: at, UserID: fmt.Sprintf("u%03d", u)}
			forwards = append(forwards, ev)
			out = append(out, ev)
		default:
			u := rng.IntN(150)
			var lines []reward.Line
			for range 1 + rng.IntN(3) {
				s := skus[rng.IntN(len(skus))]
				lines = append(lines, reward.Line{SKU: s.sku, Category: s.cat, Quantity: 1 + rng.Int64N(4)})
			}
			ev := reward.Event{ID: fmt.Sprintf("ord-%d", i), Type: reward.OrderInstalled, Time: at,
				UserID: fmt.Sprintf("u%03d", u), StaffID: fmt.Sprintf("s%02d", u%40), ShopID: fmt.Sprintf("shop%d", u%12),
				TeamID: fmt.Sprintf("team%d", u%8), Region: regions[rng.IntN(len(regions))],
				Amount: money.FromMinor(500+rng.Int64N(20000), money.USD), Lines: lines}
			forwards = append(forwards, ev)
			out = append(out, ev)
		}
	}
	return out
}

// LoyaltyStorer is implemented by adapters that keep loyalty members
// (reward.LoyaltyStore); RunLoyalty skips adapters that do not.
type LoyaltyStorer interface {
	Loyalty() reward.LoyaltyStore
}

func loyaltyStore(t *testing.T, s Store) reward.LoyaltyStore {
	t.Helper()
	ls, ok := s.(LoyaltyStorer)
	if !ok {
		t.Skip("the adapter has no Loyalty() reward.LoyaltyStore")
	}
	return ls.Loyalty()
}

// RunLoyalty checks the loyalty part of package reward's store: members,
// accruals with lifetime points and rolling spend, conditional tier
// changes, rollback, and, through a reward.Loyalty over the adapter's
// ledger, that concurrent accruals and redemptions on one member from two
// instances never take the balance below zero and keep lifetime points
// equal to the sum of accruals.
func RunLoyalty(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("members, accruals and tiers", func(t *testing.T) {
		ls := loyaltyStore(t, h.Open(t))
		_, err := ls.Member(ctx, tenantA, "m1")
		require.ErrorIs(t, err, reward.ErrMemberNotFound)
		for _, id := range []string{"m2", "m1", "m3"} {
			require.NoError(t, ls.InsertMember(ctx, tenantA, reward.MemberRecord{ID: id, Email: id + "@x", Name: "N " + id, Tier: "basic",
				RegisteredAt: rwT0, LastActivity: rwT0, TierSince: rwT0}))
		}
		require.ErrorIs(t, ls.InsertMember(ctx, tenantA, reward.MemberRecord{ID: "m1", Tier: "basic", RegisteredAt: rwT0, LastActivity: rwT0, TierSince: rwT0}),
			reward.ErrMemberExists)
		require.NoError(t, ls.InsertMember(ctx, tenantB, reward.MemberRecord{ID: "m1", Tier: "other", RegisteredAt: rwT0, LastActivity: rwT0, TierSince: rwT0}),
			"tenants are apart")
		page, err := ls.Members(ctx, tenantA, "", 2)
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, []string{"m1", "m2"}, []string{page[0].ID, page[1].ID})
		assert.Equal(t, "m1@x", page[0].Email)
		assert.True(t, rwT0.Equal(page[0].RegisteredAt))
		page, err = ls.Members(ctx, tenantA, "m2", 2)
		require.NoError(t, err)
		require.Len(t, page, 1)

		m, err := ls.AddAccrual(ctx, tenantA, reward.AccrualRecord{Member: "m1", Key: "a1", At: rwT0.Add(2 * time.Hour), Spend: 1000, Points: 10})
		require.NoError(t, err)
		assert.Equal(t, int64(10), m.Lifetime)
		assert.True(t, rwT0.Add(2*time.Hour).Equal(m.LastActivity))
		m, err = ls.AddAccrual(ctx, tenantA, reward.AccrualRecord{Member: "m1", Key: "a2", At: rwT0.Add(time.Hour), Spend: 500, Points: 5})
		require.NoError(t, err)
		assert.Equal(t, int64(15), m.Lifetime)
		assert.True(t, rwT0.Add(2*time.Hour).Equal(m.LastActivity), "last activity only moves forward")
		_, err = ls.AddAccrual(ctx, tenantA, reward.AccrualRecord{Member: "m1", Key: "a1", At: rwT0, Spend: 1, Points: 1})
		require.ErrorIs(t, err, storage.ErrDuplicate)
		_, err = ls.AddAccrual(ctx, tenantA, reward.AccrualRecord{Member: "ghost", Key: "a1", At: rwT0, Points: 1})
		require.ErrorIs(t, err, reward.ErrMemberNotFound)
		m, err = ls.Member(ctx, tenantA, "m1")
		require.NoError(t, err)
		assert.Equal(t, int64(15), m.Lifetime, "refused accruals change nothing")

		spend, err := ls.QualifyingSpend(ctx, tenantA, "m1", rwT0.Add(90*time.Minute))
		require.NoError(t, err)
		assert.Equal(t, int64(1000), spend)
		spend, err = ls.QualifyingSpend(ctx, tenantA, "m1", rwT0.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, int64(1500), spend, "the window includes its start")
		spend, err = ls.QualifyingSpend(ctx, tenantA, "m9", rwT0)
		require.NoError(t, err)
		assert.Zero(t, spend)

		require.NoError(t, ls.TouchMember(ctx, tenantA, "m1", rwT0.Add(3*time.Hour)))
		require.NoError(t, ls.TouchMember(ctx, tenantA, "m1", rwT0))
		require.ErrorIs(t, ls.TouchMember(ctx, tenantA, "ghost", rwT0), reward.ErrMemberNotFound)
		m, err = ls.Member(ctx, tenantA, "m1")
		require.NoError(t, err)
		assert.True(t, rwT0.Add(3*time.Hour).Equal(m.LastActivity))

		c, ok, err := ls.SetTier(ctx, tenantA, reward.TierChange{Member: "m1", From: "basic", To: "gold", At: rwT0.Add(time.Hour), Reason: "r1"})
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int64(1), c.Seq)
		_, ok, err = ls.SetTier(ctx, tenantA, reward.TierChange{Member: "m1", From: "basic", To: "silver", At: rwT0.Add(time.Hour)})
		require.NoError(t, err)
		assert.False(t, ok, "the tier is no longer basic")
		c, ok, err = ls.SetTier(ctx, tenantA, reward.TierChange{Member: "m1", From: "gold", To: "basic", At: rwT0.Add(2 * time.Hour), Reason: "r2"})
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int64(2), c.Seq)
		_, _, err = ls.SetTier(ctx, tenantA, reward.TierChange{Member: "ghost", From: "a", To: "b", At: rwT0})
		require.ErrorIs(t, err, reward.ErrMemberNotFound)
		changes, err := ls.TierChanges(ctx, tenantA, "m1")
		require.NoError(t, err)
		require.Len(t, changes, 2)
		assert.Equal(t, reward.TierChange{Member: "m1", Seq: 1, From: "basic", To: "gold", At: changes[0].At, Reason: "r1"}, changes[0])
		assert.True(t, rwT0.Add(time.Hour).Equal(changes[0].At))
		assert.Equal(t, "basic", changes[1].To)
		m, err = ls.Member(ctx, tenantA, "m1")
		require.NoError(t, err)
		assert.Equal(t, "basic", m.Tier)
		assert.Equal(t, int64(2), m.TierVersion)
		assert.True(t, rwT0.Add(2*time.Hour).Equal(m.TierSince))
		other, err := ls.Member(ctx, tenantB, "m1")
		require.NoError(t, err)
		assert.Equal(t, "other", other.Tier)
		assert.Zero(t, other.Lifetime)
	})

	t.Run("rollback takes loyalty writes back", func(t *testing.T) {
		s := h.Open(t)
		ls := loyaltyStore(t, s)
		require.NoError(t, ls.InsertMember(ctx, tenantA, reward.MemberRecord{ID: "m1", Tier: "basic", RegisteredAt: rwT0, LastActivity: rwT0, TierSince: rwT0}))
		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if _, err := ls.AddAccrual(ctx, tenantA, reward.AccrualRecord{Member: "m1", Key: "a1", At: rwT0, Spend: 100, Points: 7}); err != nil {
				return err
			}
			if _, _, err := ls.SetTier(ctx, tenantA, reward.TierChange{Member: "m1", From: "basic", To: "gold", At: rwT0}); err != nil {
				return err
			}
			if err := ls.InsertMember(ctx, tenantA, reward.MemberRecord{ID: "m2", Tier: "basic", RegisteredAt: rwT0, LastActivity: rwT0, TierSince: rwT0}); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		m, err := ls.Member(ctx, tenantA, "m1")
		require.NoError(t, err)
		assert.Equal(t, reward.MemberRecord{ID: "m1", Tier: "basic", RegisteredAt: m.RegisteredAt, LastActivity: m.LastActivity, TierSince: m.TierSince}, m)
		_, err = ls.Member(ctx, tenantA, "m2")
		require.ErrorIs(t, err, reward.ErrMemberNotFound)
		changes, err := ls.TierChanges(ctx, tenantA, "m1")
		require.NoError(t, err)
		assert.Empty(t, changes)
		_, err = ls.AddAccrual(ctx, tenantA, reward.AccrualRecord{Member: "m1", Key: "a1", At: rwT0, Spend: 100, Points: 7})
		require.NoError(t, err, "the rolled-back accrual key is free")
	})

	t.Run("concurrent accruals and redemptions on one member", func(t *testing.T) {
		first := h.Open(t)
		second := h.second(t, first)
		programs := make([]*reward.Loyalty, 2)
		for i, s := range []Store{first, second} {
			assets, err := money.NewRegistry(rwPoints)
			require.NoError(t, err)
			led, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, Assets: assets})
			require.NoError(t, err)
			programs[i], err = reward.NewLoyalty(reward.LoyaltyConfig{Store: loyaltyStore(t, s), Tx: s, Ledger: led,
				Points: rwPoints, Currency: money.USD,
				Tiers:   []reward.TierRule{{Name: "basic"}, {Name: "silver", Threshold: 100}},
				Earning: []reward.EarningRule{{ID: "base", Rate: decimal.NewFromInt(1)}},
				Offers:  []reward.Offer{{ID: "burn", Cost: 7}}})
			require.NoError(t, err)
		}
		_, err := programs[0].Register(ctx, tenantA, reward.Registration{ID: "hot"})
		require.NoError(t, err)
		writers, rounds := h.writers(), 6
		var wg sync.WaitGroup
		var mu sync.Mutex
		var accrued, accruals, redeemed int64
		var failures []error
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := programs[w%2]
				for i := range rounds {
					n := int64(1 + (w+i)%5)
					// SQLite's single writer makes some callers wait past
					// the lock timeout: they retry, as a host would (the
					// keys make retries safe).
					var err error
					for try := 0; try == 0 || lyRetry(err) && try < 50; try++ {
						_, err = l.Accrue(ctx, tenantA, reward.Accrual{Key: fmt.Sprintf("a-%d-%d", w, i), Member: "hot",
							Amount: money.FromMinor(n*100, money.USD), Time: rwT0})
					}
					mu.Lock()
					if err == nil {
						accrued += n
						accruals++
					} else {
						failures = append(failures, err)
					}
					mu.Unlock()
					for try := 0; try == 0 || lyRetry(err) && try < 50; try++ {
						_, err = l.Redeem(ctx, tenantA, reward.RedeemRequest{Key: fmt.Sprintf("r-%d-%d", w, i), Member: "hot", Offer: "burn"})
					}
					mu.Lock()
					switch {
					case err == nil:
						redeemed++
					case errors.Is(err, reward.ErrInsufficientPoints):
					default:
						failures = append(failures, err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Empty(t, failures)
		m, err := programs[1].Member(ctx, tenantA, "hot")
		require.NoError(t, err)
		assert.Equal(t, accrued, mustMinor(t, m.Lifetime), "lifetime is the sum of accruals")
		assert.Equal(t, accrued-7*redeemed, mustMinor(t, m.Points))
		assert.False(t, m.Points.IsNegative(), "the balance never goes below zero")
		if accrued >= 100 {
			assert.Equal(t, "silver", m.Tier)
		}
		h, err := programs[0].History(ctx, tenantA, "hot", 0, 1000)
		require.NoError(t, err)
		assert.Len(t, h.Entries, int(accruals+redeemed), "one ledger entry per accrual and per redemption")
	})
}

func lyRetry(err error) bool {
	return errors.Is(err, storage.ErrLockTimeout) || storage.IsRetryable(err)
}

func mustMinor(t *testing.T, a money.Amount) int64 {
	t.Helper()
	m, err := a.Minor()
	require.NoError(t, err)
	return m
}
