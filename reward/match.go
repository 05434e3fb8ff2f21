package reward

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// match decides whether campaign c counts forward event ev, and for whom.
// It returns c's compiled state and the participant, or the reasons it
// does not count (every failing rule when explain is set, the first
// otherwise). With sc, a rule set that another campaign of the event
// already evaluated (the same definitions) is not evaluated again.
func (e *Engine) match(ctx context.Context, tenant storage.TenantID, c *Campaign, ev *Event, f *rules.Facts, explain bool, sc *scratch) (*compiled, string, []string, error) {
	var reasons []string
	if !c.listens(ev.Type) {
		return nil, "", []string{fmt.Sprintf("campaign does not listen to %s events", ev.Type)}, nil
	}
	if ev.Time.Before(c.Start) || !ev.Time.Before(c.End) {
		reasons = append(reasons, fmt.Sprintf("event time %s is outside the campaign window [%s, %s)",
			ev.Time.UTC().Format("2006-01-02T15:04:05Z"), c.Start.UTC().Format("2006-01-02T15:04:05Z"), c.End.UTC().Format("2006-01-02T15:04:05Z")))
		if !explain {
			return nil, "", reasons, nil
		}
	}
	cc, err := e.compile(tenant, c)
	if err != nil {
		return nil, "", nil, err
	}
	participant := ev.participant(c.Participant)
	switch {
	case participant == "":
		reasons = append(reasons, fmt.Sprintf("event has no %s ID", c.Participant))
	case cc.allow != nil && !cc.allow[participant]:
		reasons = append(reasons, fmt.Sprintf("%s %q does not take part in the campaign", c.Participant, participant))
	}
	if len(reasons) > 0 && !explain {
		return cc, "", reasons, nil
	}
	if cc.set != nil {
		if explain || sc == nil {
			var v rules.Verdict
			if explain {
				v = cc.set.Explain(ctx, f)
			} else {
				v = cc.set.Evaluate(ctx, f)
			}
			for _, r := range v.Failures {
				reasons = append(reasons, ruleReason(r))
			}
		} else {
			reasons = sc.evaluate(ctx, cc, f)
		}
	}
	return cc, participant, reasons, nil
}

// ruleVerdict is the outcome of one rule set for the event in hand.
type ruleVerdict struct {
	key     string   // compiled.rulesKey
	reasons []string // nil: passed
}

// evaluate returns the reasons cc's rules refuse the event for (nil when
// they pass). Campaigns often share their eligibility rules (a region, a
// channel, a minimum amount): a rule set whose definitions equal one
// evaluated before for this event has the same verdict, since rules only
// read the facts.
func (sc *scratch) evaluate(ctx context.Context, cc *compiled, f *rules.Facts) []string {
	for i := range sc.verdicts {
		if v := &sc.verdicts[i]; v.key == cc.rulesKey {
			return slices.Clone(v.reasons) // each Skip gets a list of its own
		}
	}
	var reasons []string
	for _, r := range cc.set.Evaluate(ctx, f).Failures {
		reasons = append(reasons, ruleReason(r))
	}
	if cc.rulesKey != "" {
		sc.verdicts = append(sc.verdicts, ruleVerdict{key: cc.rulesKey, reasons: reasons})
	}
	return reasons
}

func ruleReason(r rules.Result) string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("rule %s could not be evaluated: %v", r.Rule, r.Err)
	case r.Reason != "":
		return fmt.Sprintf("rule %s: %s", r.Rule, r.Reason)
	}
	return fmt.Sprintf("rule %s failed", r.Rule)
}

// periodKeys holds the period keys of one event time, computed once each.
type periodKeys struct{ day, week, month string }

func (k *periodKeys) of(p Period, t time.Time) string {
	var slot *string
	switch p {
	case PeriodDay:
		slot = &k.day
	case PeriodWeek:
		slot = &k.week
	case PeriodMonth:
		slot = &k.month
	default:
		return p.Key(t)
	}
	if *slot == "" {
		*slot = p.Key(t)
	}
	return *slot
}

// flowOf computes the flow of forward event ev for participant in c by
// the campaign's strategy, or the reason it contributes nothing. keys
// caches the period keys of ev's time across the campaigns of one event.
func flowOf(c *Campaign, ev *Event, participant string, keys *periodKeys) (Flow, []string) {
	f := Flow{Campaign: c.ID, Participant: participant, Period: keys.of(c.period(), ev.Time)}
	switch c.Indicator.Strategy {
	case OrderCount:
		f.Delta = 1
	case OrderAmount:
		d, reason := amountDelta(c, ev)
		if reason != "" {
			return Flow{}, []string{reason}
		}
		f.Delta = d
	case ProductQuantity:
		f.Delta = quantityDelta(c, ev)
	case AttendanceDays:
		f.Delta = 1
		f.Day = ev.Time.UTC().Format("2006-01-02")
	}
	if f.Delta <= 0 {
		return Flow{}, []string{fmt.Sprintf("event contributes nothing to the %s indicator", c.Indicator.Strategy)}
	}
	return f, nil
}

func amountDelta(c *Campaign, ev *Event) (int64, string) {
	cur := ev.Amount.Currency()
	if cur.IsZero() {
		return 0, "event has no amount"
	}
	if cur.Code() != c.Indicator.Currency {
		return 0, fmt.Sprintf("event amount is in %s, the campaign counts %s", cur.Code(), c.Indicator.Currency)
	}
	m, err := ev.Amount.Minor()
	if err != nil {
		return 0, fmt.Sprintf("event amount: %v", err)
	}
	return m, ""
}

func quantityDelta(c *Campaign, ev *Event) int64 {
	ind := &c.Indicator
	var sum int64
	for _, l := range ev.Lines {
		w := int64(1)
		if len(ind.SKUWeights) > 0 || len(ind.CategoryWeights) > 0 {
			var ok bool
			if w, ok = ind.SKUWeights[l.SKU]; !ok {
				w = ind.CategoryWeights[l.Category]
			}
		}
		sum += w * l.Quantity // both bounded: no overflow for any sane number of lines
	}
	return sum
}

// partialDelta is what a partial reverse takes back in c's unit.
func partialDelta(c *Campaign, rev *Event) int64 {
	switch c.Indicator.Strategy {
	case OrderAmount:
		d, reason := amountDelta(c, rev)
		if reason != "" {
			return 0
		}
		return d
	case ProductQuantity:
		return quantityDelta(c, rev)
	}
	// An order or an attendance is taken back only by a full reverse.
	return 0
}

// Verdict is the Engine's view of one campaign for one event: whether it
// would count it, for whom, and if not, every reason why.
type Verdict struct {
	Campaign    string   `json:"campaign"`
	Participant string   `json:"participant,omitempty"`
	Counts      bool     `json:"counts"`
	Delta       int64    `json:"delta,omitempty"`
	Reasons     []string `json:"reasons,omitempty"`
}

// Explain tells, without writing anything, how each active campaign that
// listens to ev's type would judge it (every failing condition, not just
// the first), and, when no campaign listens, says so in one Verdict with
// an empty Campaign. Reverse events are judged by their forward event, so
// Explain reports them as not matched. Errors: as Handle's for bad input.
func (e *Engine) Explain(ctx context.Context, tenant storage.TenantID, ev Event) ([]Verdict, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := e.types.validate(&ev); err != nil {
		return nil, err
	}
	if e.types.isReverse(ev.Type) {
		return []Verdict{{Reasons: []string{"a reverse event counts through the event it reverses (" + ev.OriginalID + ")"}}}, nil
	}
	camps, err := e.store.ActiveCampaigns(ctx, tenant, ev.Type)
	if err != nil {
		return nil, err
	}
	if len(camps) == 0 {
		return []Verdict{{Reasons: []string{fmt.Sprintf("no active campaign listens to %s events", ev.Type)}}}, nil
	}
	f := ev.facts()
	var periods periodKeys
	out := make([]Verdict, 0, len(camps))
	for i := range camps {
		c := &camps[i]
		_, p, reasons, err := e.match(ctx, tenant, c, &ev, f, true, nil)
		if err != nil {
			return nil, err
		}
		v := Verdict{Campaign: c.ID, Participant: p, Reasons: reasons}
		if len(reasons) == 0 {
			flow, why := flowOf(c, &ev, p, &periods)
			v.Reasons, v.Delta, v.Counts = why, flow.Delta, len(why) == 0
		}
		out = append(out, v)
	}
	return out, nil
}
