package reward

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
)

// Kind is a campaign's gameplay.
type Kind string

// Gameplays.
const (
	// Challenge awards each tier once when a participant's indicator
	// reaches its target.
	Challenge Kind = "CHALLENGE"
	// Ranking ranks participants on their indicator and awards rank bands
	// when the campaign closes.
	Ranking Kind = "PK_RANKING"
)

// Status is where a campaign stands. Only active campaigns count events.
type Status string

// Campaign statuses.
const (
	StatusDraft  Status = "draft"
	StatusActive Status = "active"
	StatusClosed Status = "closed"
)

// ParticipantKind says whom a campaign counts an event for.
type ParticipantKind string

// Participant kinds. ParticipantTeam is the team mode of a ranking: every
// member's events add to their team's value.
const (
	ParticipantUser  ParticipantKind = "user"
	ParticipantStaff ParticipantKind = "staff"
	ParticipantShop  ParticipantKind = "shop"
	ParticipantTeam  ParticipantKind = "team"
)

// Strategy is how a matched event turns into indicator flow.
type Strategy string

// Indicator strategies.
const (
	// OrderCount adds 1 per order; a full reverse takes it back.
	OrderCount Strategy = "order_count"
	// OrderAmount adds the order amount in minor units of
	// Indicator.Currency; events in another currency do not count.
	OrderAmount Strategy = "order_amount"
	// ProductQuantity adds line quantities times their weight: the SKU's
	// weight, else the category's, else 0; with no weights at all every
	// line counts with weight 1.
	ProductQuantity Strategy = "product_quantity"
	// AttendanceDays adds 1 per distinct day (UTC) with attendance.
	AttendanceDays Strategy = "attendance_days"
)

// Indicator is what a campaign measures.
type Indicator struct {
	Strategy        Strategy         `json:"strategy"`
	Currency        string           `json:"currency,omitempty"`
	SKUWeights      map[string]int64 `json:"sku_weights,omitempty"`
	CategoryWeights map[string]int64 `json:"category_weights,omitempty"`
}

// Period splits a campaign's progress into windows of event time (UTC).
type Period string

// Periods. A ranking uses PeriodCampaign.
const (
	PeriodCampaign Period = "campaign"
	PeriodDay      Period = "day"
	PeriodWeek     Period = "week"
	PeriodMonth    Period = "month"
)

// Key returns the period key of t: "all", "2025-08-11", "2025-W33",
// "2025-08".
func (p Period) Key(t time.Time) string {
	t = t.UTC()
	switch p {
	case PeriodDay:
		return t.Format(time.DateOnly)
	case PeriodWeek:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case PeriodMonth:
		return t.Format("2006-01")
	}
	return "all"
}

// ClawbackPolicy says what happens to an award when reverses drop the
// participant's value below the tier that earned it.
type ClawbackPolicy string

// Clawback policies.
const (
	// ClawbackNever keeps awards once given.
	ClawbackNever ClawbackPolicy = "never"
	// ClawbackOnReverse takes an award back when the value drops below its
	// tier's target, and gives it again if the value climbs back, so that
	// what a participant holds depends only on the final value.
	ClawbackOnReverse ClawbackPolicy = "on_reverse"
)

// AwardKind is what an award grants.
type AwardKind string

// Award kinds.
const (
	AwardPoints AwardKind = "points"
	AwardCash   AwardKind = "cash"
	AwardCoupon AwardKind = "coupon"
)

// Award is what a tier or a rank band grants, handed to the Awarder.
type Award struct {
	Kind AwardKind `json:"kind"`
	// Amount of points or cash (AwardPoints, AwardCash).
	Amount money.Amount `json:"amount,omitzero"`
	// Template and Quantity of coupons (AwardCoupon).
	Template string `json:"template,omitempty"`
	Quantity int    `json:"quantity,omitempty"`
	// Cost is what the award takes from the campaign's budget; zero means
	// the amount in minor units (and is required for coupons).
	Cost int64 `json:"cost,omitempty"`
}

// BudgetCost returns what the award takes from a budget.
func (a Award) BudgetCost() int64 {
	if a.Cost > 0 {
		return a.Cost
	}
	m, err := a.Amount.Minor()
	if err != nil {
		return 0
	}
	return m
}

func (a Award) validate(where string) error {
	var errs []error
	switch a.Kind {
	case AwardPoints, AwardCash:
		if a.Amount.Currency().IsZero() || !a.Amount.IsPositive() || !a.Amount.IsExact() {
			errs = append(errs, fmt.Errorf("%w: %s: %s award needs a positive exact amount", ErrInvalidCampaign, where, a.Kind))
		} else if _, err := a.Amount.Minor(); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalidCampaign, where, err))
		}
	case AwardCoupon:
		if a.Template == "" || a.Quantity < 1 || a.Cost < 1 {
			errs = append(errs, fmt.Errorf("%w: %s: coupon award needs a template, a quantity and a cost", ErrInvalidCampaign, where))
		}
	default:
		errs = append(errs, fmt.Errorf("%w: %s: award kind %q", ErrInvalidCampaign, where, a.Kind))
	}
	if a.Cost < 0 {
		errs = append(errs, fmt.Errorf("%w: %s: negative cost", ErrInvalidCampaign, where))
	}
	return errors.Join(errs...)
}

// Tier is one target of a CHALLENGE and what reaching it awards. Each
// tier is awarded once per participant and period: reaching 10 and then
// 20 orders earns both tiers' awards.
type Tier struct {
	Target int64 `json:"target"`
	Award  Award `json:"award"`
}

// RankReward awards every rank from From to To (1-based, inclusive) when a
// PK_RANKING campaign closes.
type RankReward struct {
	From  int   `json:"from"`
	To    int   `json:"to"`
	Award Award `json:"award"`
}

// Campaign is an incentive: which events count (types, window,
// participants, eligibility rules), what they count toward (Indicator,
// Period), and what that earns (Tiers or RankRewards), within a Budget.
type Campaign struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Kind    Kind   `json:"kind"`
	Status  Status `json:"status"`
	Version int64  `json:"version"`

	// Window [Start, End) of event time.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// EventTypes the campaign listens to (forward types; reverses of
	// counted events always apply).
	EventTypes []EventType `json:"event_types"`
	// Participant picks whom an event counts for; Participants, when not
	// empty, is the closed list of those who may take part.
	Participant  ParticipantKind `json:"participant"`
	Participants []string        `json:"participants,omitempty"`
	// Rules decide eligibility; every rule must pass.
	Rules []rules.Definition `json:"rules,omitempty"`

	Indicator Indicator `json:"indicator"`
	Period    Period    `json:"period,omitempty"`

	// Tiers of a CHALLENGE, by ascending target.
	Tiers    []Tier         `json:"tiers,omitempty"`
	Clawback ClawbackPolicy `json:"clawback,omitempty"`
	// TopN is the leaderboard's length shown and settled; RankRewards the
	// bands awarded at close (PK_RANKING).
	TopN        int          `json:"top_n,omitempty"`
	RankRewards []RankReward `json:"rank_rewards,omitempty"`

	// Budget caps the total cost of awards given (tiers and ranks); zero
	// means no cap. Awards that do not fit are not given (see Outcome).
	Budget int64 `json:"budget,omitempty"`
}

// period returns the campaign's period, defaulting to PeriodCampaign.
func (c *Campaign) period() Period {
	if c.Period == "" {
		return PeriodCampaign
	}
	return c.Period
}

// Validate reports every problem with c, each wrapping ErrInvalidCampaign.
// Rules are checked for shape here and compiled by the Engine.
func (c *Campaign) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: campaign %q: %s", ErrInvalidCampaign, c.ID, fmt.Sprintf(format, args...)))
	}
	if c.ID == "" || len(c.ID) > 100 {
		bad("ID must have 1 to 100 bytes")
	}
	if c.Start.IsZero() || c.End.IsZero() || !c.Start.Before(c.End) {
		bad("window needs Start before End")
	}
	if len(c.EventTypes) == 0 {
		bad("no event types")
	}
	switch c.Participant {
	case ParticipantUser, ParticipantStaff, ParticipantShop, ParticipantTeam:
	default:
		bad("participant kind %q", c.Participant)
	}
	switch c.Indicator.Strategy {
	case OrderCount, ProductQuantity, AttendanceDays:
	case OrderAmount:
		if c.Indicator.Currency == "" {
			bad("order_amount needs a currency")
		}
	default:
		bad("strategy %q", c.Indicator.Strategy)
	}
	for k, w := range c.Indicator.SKUWeights {
		if w < 0 || w > 1_000_000 {
			bad("SKU %q weight %d outside 0..1000000", k, w)
		}
	}
	for k, w := range c.Indicator.CategoryWeights {
		if w < 0 || w > 1_000_000 {
			bad("category %q weight %d outside 0..1000000", k, w)
		}
	}
	switch c.period() {
	case PeriodCampaign, PeriodDay, PeriodWeek, PeriodMonth:
	default:
		bad("period %q", c.Period)
	}
	switch c.Clawback {
	case "", ClawbackNever, ClawbackOnReverse:
	default:
		bad("clawback policy %q", c.Clawback)
	}
	if c.Budget < 0 {
		bad("negative budget")
	}
	switch c.Kind {
	case Challenge:
		if len(c.Tiers) == 0 {
			bad("a CHALLENGE needs tiers")
		}
		for i, t := range c.Tiers {
			if t.Target < 1 {
				bad("tier %d target %d must be positive", i, t.Target)
			}
			if i > 0 && t.Target <= c.Tiers[i-1].Target {
				bad("tier targets must ascend")
			}
			if err := t.Award.validate(fmt.Sprintf("tier %d", i)); err != nil {
				errs = append(errs, err)
			}
		}
	case Ranking:
		if c.period() != PeriodCampaign {
			bad("a PK_RANKING ranks over the whole campaign (period %q)", c.Period)
		}
		if c.TopN < 1 || c.TopN > 10_000 {
			bad("TopN %d outside 1..10000", c.TopN)
		}
		for i, r := range c.RankRewards {
			if r.From < 1 || r.To < r.From || r.To > c.TopN {
				bad("rank reward %d covers %d..%d (1..TopN)", i, r.From, r.To)
			}
			if i > 0 && r.From <= c.RankRewards[i-1].To {
				bad("rank rewards must not overlap and must ascend")
			}
			if err := r.Award.validate(fmt.Sprintf("rank reward %d", i)); err != nil {
				errs = append(errs, err)
			}
		}
	default:
		bad("kind %q", c.Kind)
	}
	return errors.Join(errs...)
}

// Clone returns a deep copy of c.
func (c Campaign) Clone() Campaign {
	c.EventTypes = slices.Clone(c.EventTypes)
	c.Participants = slices.Clone(c.Participants)
	c.Rules = slices.Clone(c.Rules)
	c.Tiers = slices.Clone(c.Tiers)
	c.RankRewards = slices.Clone(c.RankRewards)
	c.Indicator.SKUWeights = cloneMap(c.Indicator.SKUWeights)
	c.Indicator.CategoryWeights = cloneMap(c.Indicator.CategoryWeights)
	return c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// listens reports whether c listens to typ.
func (c *Campaign) listens(typ EventType) bool { return slices.Contains(c.EventTypes, typ) }
