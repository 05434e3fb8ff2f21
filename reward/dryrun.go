package reward

import (
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// DryRunReport is what a campaign draft would have done to a recorded
// event stream.
type DryRunReport struct {
	Campaign string `json:"campaign"`
	// Events is the number of events replayed, Invalid those refused as
	// bad input, Counted those the campaign counted (reverses included).
	Events  int `json:"events"`
	Invalid int `json:"invalid"`
	Counted int `json:"counted"`
	// Skipped counts the events not counted, by reason.
	Skipped map[string]int `json:"skipped,omitempty"`
	// Awards are the awards participants would hold at the end (clawed
	// back ones excluded), ordered by participant and slot.
	Awards []Grant `json:"awards,omitempty"`
	// TotalCost is the budget cost of Awards; Totals their amounts per
	// currency or asset (coupon awards have no amount).
	TotalCost int64          `json:"total_cost"`
	Totals    []money.Amount `json:"totals,omitempty"`
	// BudgetRefusals counts awards the budget would have refused.
	BudgetRefusals int `json:"budget_refusals,omitempty"`
	// Standings is the final leaderboard of a PK_RANKING (TopN).
	Standings []Standing `json:"standings,omitempty"`
}

// dryRunTenant is the tenant of a dry run's private store.
const dryRunTenant storage.TenantID = "dry-run"

// DryRun replays events (ordered by event time, then ID) against draft as
// if it were active, in a private in-memory store: nothing is written to
// the Engine's store and no Awarder is called. Duplicates count once and
// reverses apply as they would live; a PK_RANKING is closed at the end so
// that its rank awards show. Events the draft's types do not know are
// counted as Invalid, not returned as errors.
//
// Errors: ErrInvalidCampaign for a draft that cannot run (rule compile
// errors included), ctx's error.
func (e *Engine) DryRun(ctx context.Context, draft Campaign, events []Event) (DryRunReport, error) {
	sim := newSimStore()
	eng := &Engine{store: sim, tx: sim, clock: e.clock, env: e.env, types: e.types, custom: e.custom, rev: e.rev}
	draft.Version, draft.Status = 0, StatusActive
	c, err := eng.PutCampaign(ctx, dryRunTenant, draft)
	if err != nil {
		return DryRunReport{}, err
	}
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := &events[order[i]], &events[order[j]]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return a.ID < b.ID
	})
	rep := DryRunReport{Campaign: c.ID, Skipped: map[string]int{}}
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			return DryRunReport{}, err
		}
		rep.Events++
		out, err := eng.Handle(ctx, dryRunTenant, events[i])
		switch {
		case errors.Is(err, ErrInvalidEvent), errors.Is(err, storage.ErrIdempotencyMismatch):
			rep.Invalid++
			continue
		case err != nil:
			return DryRunReport{}, err
		}
		if len(out.Counted) > 0 {
			rep.Counted++
		}
		for _, s := range out.Skipped {
			for _, r := range s.Reasons {
				rep.Skipped[r]++
			}
		}
		for _, g := range out.Grants {
			if g.Change == ChangeBudgetExhausted {
				rep.BudgetRefusals++
			}
		}
	}
	if c.Kind == Ranking {
		st, err := eng.Close(ctx, dryRunTenant, c.ID)
		if err != nil {
			return DryRunReport{}, err
		}
		rep.Standings = st.Standings
		for _, g := range st.Grants {
			if g.Change == ChangeBudgetExhausted {
				rep.BudgetRefusals++
			}
		}
	}
	grants, err := sim.Grants(ctx, dryRunTenant, c.ID, "", "")
	if err != nil {
		return DryRunReport{}, err
	}
	totals := map[money.Currency]money.Amount{}
	for _, g := range grants {
		if g.Status != GrantAwarded {
			continue
		}
		rep.Awards = append(rep.Awards, g)
		rep.TotalCost += g.Award.BudgetCost()
		if cur := g.Award.Amount.Currency(); !cur.IsZero() {
			t, ok := totals[cur]
			if !ok {
				t = money.Zero(cur)
			}
			if t, err = t.Add(g.Award.Amount); err != nil {
				return DryRunReport{}, err
			}
			totals[cur] = t
		}
	}
	for _, t := range totals {
		rep.Totals = append(rep.Totals, t)
	}
	slices.SortFunc(rep.Totals, func(a, b money.Amount) int { return cmpString(a.Currency().Code(), b.Currency().Code()) })
	if len(rep.Skipped) == 0 {
		rep.Skipped = nil
	}
	return rep, nil
}
