package coupon

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// ListByUser returns a user's coupons, optionally only those in the given
// states, ordered by ID. States are as a reader sees them: an ACTIVATED
// coupon past its validity is listed (and filtered) as EXPIRED.
// Errors: ErrInvalidRequest.
func (s *Service) ListByUser(ctx context.Context, tenant storage.TenantID, userID string, states ...State) ([]Coupon, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := validID("user ID", userID); err != nil {
		return nil, err
	}
	q := Query{Tenant: tenant, UserID: userID}
	if len(states) > 0 {
		q.States = slices.Clone(states)
		if slices.Contains(states, StateExpired) && !slices.Contains(states, StateActivated) {
			q.States = append(q.States, StateActivated)
		}
	}
	cs, err := s.store.FindCoupons(ctx, q)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := cs[:0]
	for _, c := range cs {
		c = seen(c, now)
		if len(states) == 0 || slices.Contains(states, c.State) {
			out = append(out, c)
		}
	}
	return out, nil
}

// UsableRequest asks which of a user's coupons, and which automatic
// promotions, fit a cart.
type UsableRequest struct {
	Tenant storage.TenantID
	UserID string
	Cart   Cart
	// Facts for the use conditions; order and lines are filled from the
	// cart when empty.
	Facts *rules.Facts
}

// Candidate is a coupon (or automatic promotion) that fits the cart.
type Candidate struct {
	Coupon   *Coupon // nil for an automatic promotion
	Template Template
	// Eligible is the cart amount in the template's scope, Units its units.
	Eligible money.Amount
	Units    int64
}

// Rejection is a coupon (or automatic promotion) that does not fit, and
// why. Err matches the sentinel of the reason (ErrExpired, ErrLocked,
// ErrNotApplicable, ErrConditionFailed, ErrCurrencyMismatch, ...).
type Rejection struct {
	Coupon   *Coupon
	Template Template
	Reason   string
	Err      error
}

// Usability is the answer of Usable.
type Usability struct {
	Usable   []Candidate
	Unusable []Rejection
}

// Usable sorts the user's ACTIVATED, LOCKED and FROZEN coupons and the
// tenant's automatic promotions into those that fit the cart and those
// that do not, with the reason of each. It reads only. Errors:
// ErrInvalidRequest, ErrCurrencyMismatch (a cart amount in another
// currency than the cart).
func (s *Service) Usable(ctx context.Context, req UsableRequest) (Usability, error) {
	if err := req.Tenant.Validate(); err != nil {
		return Usability{}, err
	}
	if err := validID("user ID", req.UserID); err != nil {
		return Usability{}, err
	}
	if err := req.Cart.Validate(); err != nil {
		return Usability{}, err
	}
	now := s.clock.Now()
	// The facts are made only for a template with conditions: most have
	// none, and the lines' copy is a cart's worth of allocations.
	var f *rules.Facts
	var out Usability
	judge := func(c *Coupon, t *Template, comp *compiledTemplate) {
		reject := func(err error) {
			out.Unusable = append(out.Unusable, Rejection{Coupon: c, Template: *t, Reason: err.Error(), Err: err})
		}
		if c != nil {
			switch {
			case c.State == StateExpired:
				reject(fmt.Errorf("%w: coupon %s was valid until %s", ErrExpired, c.ID, c.ValidUntil))
				return
			case c.State != StateActivated:
				_, err := s.life.next(c.ID, c.State, c.FrozenFrom, EventLock)
				reject(err)
				return
			case !c.ValidFrom.IsZero() && now.Before(c.ValidFrom):
				reject(fmt.Errorf("%w: coupon %s is valid from %s", ErrNotStarted, c.ID, c.ValidFrom))
				return
			}
		} else if err := t.Validity.claimable(now); err != nil {
			reject(fmt.Errorf("promotion %s: %w", t.ID, err))
			return
		}
		amount, units, err := req.Cart.applicable(t)
		if err != nil {
			reject(err)
			return
		}
		if len(comp.rules) > 0 {
			if f == nil {
				f = cartFacts(facts(req.Facts, req.UserID, now), &req.Cart)
			}
			if err := comp.check(ctx, t.ID, PhaseUse, f); err != nil {
				reject(err)
				return
			}
		}
		if !t.Limits.Budget.IsZero() {
			budget, err := t.Limits.Budget.Minor()
			if err == nil {
				var spent int64
				spent, err = s.counters.Counter(ctx, t.Tenant, budgetKey(t.ID))
				if err == nil && spent >= budget {
					err = fmt.Errorf("%w: template %s", ErrBudgetExhausted, t.ID)
				}
			}
			if err != nil {
				reject(err)
				return
			}
		}
		out.Usable = append(out.Usable, Candidate{Coupon: c, Template: *t, Eligible: amount, Units: units})
	}
	q := Query{Tenant: req.Tenant, UserID: req.UserID, States: []State{StateActivated, StateLocked, StateFrozen}}
	var cs []Coupon
	var tpls, autos []*Template
	var err error
	if r, ok := s.store.(usableReader); ok {
		cs, tpls, autos, err = r.UsableSnapshot(ctx, q)
	} else {
		cs, err = s.store.FindCoupons(ctx, q)
		var ts []Template
		if err == nil {
			ts, err = s.store.AutoTemplates(ctx, req.Tenant)
		}
		autos = make([]*Template, len(ts))
		for i := range ts {
			autos[i] = &ts[i]
		}
	}
	if err != nil {
		return Usability{}, err
	}
	// most of them fit: the candidates are made room for once
	out.Usable = make([]Candidate, 0, len(cs)+len(autos))
	for i := range cs {
		cs[i] = seen(cs[i], now)
		c := &cs[i] // the candidates point into cs
		if i < len(tpls) && tpls[i] != nil && tpls[i].ID == c.TemplateID && tpls[i].Tenant == c.Tenant {
			comp, err := s.compile(tpls[i])
			if err != nil {
				return Usability{}, err
			}
			judge(c, tpls[i], comp)
			continue
		}
		t, comp, err := s.cachedTemplate(ctx, req.Tenant, c.TemplateID)
		if err != nil {
			return Usability{}, err
		}
		judge(c, t, comp)
	}
	for _, t := range autos {
		comp, err := s.compile(t)
		if err != nil {
			return Usability{}, err
		}
		judge(nil, t, comp)
	}
	return out, nil
}

// usableReader is an optional fast path of a Store for Usable: in one
// read (memory: one step under the store's lock) what FindCoupons(q) and
// AutoTemplates(q.Tenant) return, and templates[i], the template of
// coupons[i] (nil when there is none: Usable then reads it the usual way,
// to report it). The templates may be shared with the store: Usable only
// reads them. Like claimWriter it is not part of Store.
type usableReader interface {
	UsableSnapshot(ctx context.Context, q Query) (coupons []Coupon, templates, autos []*Template, err error)
}

// Stats are a template's numbers.
type Stats struct {
	TemplateID string
	// Issued counts coupons claimed, distributed or generated as codes.
	Issued int64
	// Used counts coupons used by paid orders and not refunded.
	Used int64
	// RemainingStock is what is left to issue; -1 when the stock is unlimited.
	RemainingStock int64
	// BudgetSpent and BudgetLeft are zero amounts when there is no budget.
	BudgetSpent money.Amount
	BudgetLeft  money.Amount
	// ByState counts the coupons by stored state.
	ByState map[State]int64
}

// Stats returns a template's statistics. Errors: ErrUnknownTemplate.
func (s *Service) Stats(ctx context.Context, tenant storage.TenantID, templateID string) (Stats, error) {
	t, _, err := s.template(ctx, tenant, templateID)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{TemplateID: t.ID, RemainingStock: -1}
	var errs []error
	get := func(key string) int64 {
		v, err := s.counters.Counter(ctx, tenant, key)
		errs = append(errs, err)
		return v
	}
	st.Issued = get(issuedKey(t.ID))
	if t.Limits.Stock > 0 {
		st.RemainingStock = max(t.Limits.Stock-st.Issued, 0)
	}
	cur := t.Benefit.Currency
	st.BudgetSpent, st.BudgetLeft = money.Zero(cur), money.Zero(cur)
	if !t.Limits.Budget.IsZero() {
		spent := money.FromMinor(get(budgetKey(t.ID)), cur)
		left, err := t.Limits.Budget.Sub(spent)
		errs = append(errs, err)
		st.BudgetSpent, st.BudgetLeft = spent, left
	}
	// Used is the count of USED coupons rather than a counter that Use
	// and Refund would keep: such a counter is one row that every payment
	// with a coupon of the template writes, and holds locked to its
	// commit, which on a database makes all of them wait for each other.
	st.ByState, err = s.store.CountCoupons(ctx, tenant, t.ID)
	errs = append(errs, err)
	st.Used = st.ByState[StateUsed]
	return st, errors.Join(errs...)
}
