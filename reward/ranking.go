package reward

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// Standing is a participant's place on a leaderboard. Ranks order by Value
// descending, then by ReachedAt ascending (who got there first, by event
// time), then by Participant ascending, so every participant has a
// distinct rank and the order never depends on arrival order.
type Standing struct {
	Rank        int       `json:"rank"`
	Participant string    `json:"participant"`
	Value       int64     `json:"value"`
	ReachedAt   time.Time `json:"reached_at"`
}

// Leaderboard returns the first n standings of a PK_RANKING campaign (n
// <= 0 means the campaign's TopN). Errors: ErrCampaignNotFound,
// ErrNotRanking, storage.ErrInvalidTenant.
func (e *Engine) Leaderboard(ctx context.Context, tenant storage.TenantID, campaign string, n int) ([]Standing, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	c, err := e.store.Campaign(ctx, tenant, campaign)
	if err != nil {
		return nil, err
	}
	if c.Kind != Ranking {
		return nil, fmt.Errorf("%w: %q is a %s", ErrNotRanking, campaign, c.Kind)
	}
	if n <= 0 {
		n = c.TopN
	}
	rows, err := e.store.Leaderboard(ctx, tenant, campaign, PeriodCampaign.Key(time.Time{}), n)
	if err != nil {
		return nil, err
	}
	out := make([]Standing, len(rows))
	for i, r := range rows {
		out[i] = Standing{Rank: i + 1, Participant: r.Participant, Value: r.Value, ReachedAt: r.ReachedAt}
	}
	return out, nil
}

// Rank returns one participant's standing in a PK_RANKING campaign.
// Errors: ErrCampaignNotFound, ErrNotRanking, ErrNoProgress.
func (e *Engine) Rank(ctx context.Context, tenant storage.TenantID, campaign, participant string) (Standing, error) {
	if err := tenant.Validate(); err != nil {
		return Standing{}, err
	}
	c, err := e.store.Campaign(ctx, tenant, campaign)
	if err != nil {
		return Standing{}, err
	}
	if c.Kind != Ranking {
		return Standing{}, fmt.Errorf("%w: %q is a %s", ErrNotRanking, campaign, c.Kind)
	}
	rank, p, err := e.store.Rank(ctx, tenant, ProgressKey{Campaign: campaign, Period: PeriodCampaign.Key(time.Time{}), Participant: participant})
	if err != nil {
		return Standing{}, err
	}
	return Standing{Rank: rank, Participant: participant, Value: p.Value, ReachedAt: p.ReachedAt}, nil
}

// Settlement is what closing a campaign did.
type Settlement struct {
	Campaign  string        `json:"campaign"`
	Standings []Standing    `json:"standings,omitempty"`
	Grants    []GrantChange `json:"grants,omitempty"`
}

// Close ends an active campaign: it stops counting events (reverses of
// counted events no longer apply either) and, for a PK_RANKING, awards
// every rank band of RankRewards to the participants holding those ranks
// (participants with a value of zero or less rank but are not awarded),
// within the budget. It runs in one transaction: the status change is
// conditional, so when several host instances close at once exactly one
// settles. Errors: ErrCampaignNotFound, ErrCampaignState when the
// campaign is not active, the Awarder's errors.
func (e *Engine) Close(ctx context.Context, tenant storage.TenantID, campaign string) (Settlement, error) {
	if err := tenant.Validate(); err != nil {
		return Settlement{}, err
	}
	var out Settlement
	err := e.tx.InTx(ctx, func(ctx context.Context) error {
		out = Settlement{Campaign: campaign}
		c, err := e.store.Campaign(ctx, tenant, campaign)
		if err != nil {
			return err
		}
		ok, err := e.store.SetCampaignStatus(ctx, tenant, campaign, StatusActive, StatusClosed)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: campaign %q is %s, not active", ErrCampaignState, campaign, c.Status)
		}
		if c.Kind != Ranking {
			return nil
		}
		return e.settleRanks(ctx, tenant, &c, e.clock.Now(), &out)
	})
	if err != nil {
		return Settlement{}, err
	}
	return out, nil
}

func (e *Engine) settleRanks(ctx context.Context, tenant storage.TenantID, c *Campaign, now time.Time, out *Settlement) error {
	period := PeriodCampaign.Key(time.Time{})
	rows, err := e.store.Leaderboard(ctx, tenant, c.ID, period, c.TopN)
	if err != nil {
		return err
	}
	o := Outcome{}
	for i, r := range rows {
		rank := i + 1
		out.Standings = append(out.Standings, Standing{Rank: rank, Participant: r.Participant, Value: r.Value, ReachedAt: r.ReachedAt})
		if r.Value <= 0 {
			continue
		}
		for _, band := range c.RankRewards {
			if rank < band.From || rank > band.To {
				continue
			}
			key := GrantKey{Campaign: c.ID, Period: period, Participant: r.Participant, Slot: rankSlot(rank)}
			if err := e.give(ctx, tenant, c, key, band.Award, "", now, &o); err != nil {
				return err
			}
		}
	}
	out.Grants = o.Grants
	return nil
}
