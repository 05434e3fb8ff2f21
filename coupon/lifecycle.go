package coupon

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// LockRequest reserves a coupon for one order.
type LockRequest struct {
	Tenant   storage.TenantID
	CouponID string
	OrderID  string
	// UserID, when set, must own the coupon.
	UserID string
	// Until is the lock's expiry; zero: now + Config.LockTTL.
	Until time.Time
	// Discount is what pricing computed for this coupon on the order, in
	// the template's currency. It is charged to the template's budget (cut
	// to what is left). Zero for templates without a budget is fine.
	Discount money.Amount
	// Cart, when given, is checked: currency, scope, minimum spend.
	Cart *Cart
	// Facts for the use conditions; order and lines are filled from Cart
	// when empty.
	Facts *rules.Facts
	Actor string
}

// LockResult is a lock: the locked coupon and the discount granted.
type LockResult struct {
	Coupon   Coupon       `json:"coupon"`
	Discount money.Amount `json:"discount,omitzero"` // after any budget cut
	// Cut says the budget could not cover the asked discount, so Discount
	// is what was left of it.
	Cut bool `json:"cut,omitempty"`
	// Replayed says the coupon was already locked for (or used by) this
	// order and nothing changed.
	Replayed bool `json:"replayed,omitempty"`
}

// Lock reserves an ACTIVATED coupon for an order until a deadline, and
// charges the discount to the template's budget and the order to its
// per-order limit. The lock is one conditional write on (coupon, state,
// version): of concurrent orders locking one coupon exactly one wins.
// Locking again for the same order returns the first result.
//
// Errors: ErrInvalidRequest, ErrUnknownCoupon, ErrNotOwner,
// *TransitionError (ErrLocked: locked by another order; ErrFrozen, ErrUsed,
// ErrExpired), ErrExpired / ErrNotStarted (outside the coupon's validity),
// ErrCurrencyMismatch, ErrNotApplicable, *ConditionError, ErrOrderLimit,
// ErrBudgetExhausted. A refused lock changes nothing.
func (s *Service) Lock(ctx context.Context, req LockRequest) (LockResult, error) {
	if err := req.Tenant.Validate(); err != nil {
		return LockResult{}, err
	}
	if err := validID("coupon ID", req.CouponID); err != nil {
		return LockResult{}, err
	}
	if err := validID("order ID", req.OrderID); err != nil {
		return LockResult{}, err
	}
	if req.Discount.IsNegative() {
		return LockResult{}, fmt.Errorf("%w: negative discount", ErrInvalidRequest)
	}
	if req.Cart != nil {
		if err := req.Cart.Validate(); err != nil {
			return LockResult{}, err
		}
	}
	now := s.clock.Now()
	until := req.Until
	if until.IsZero() {
		until = now.Add(s.cfg.LockTTL)
	}
	if !until.After(now) {
		return LockResult{}, fmt.Errorf("%w: lock expiry %s is not in the future", ErrInvalidRequest, until.Format(time.RFC3339))
	}
	l := &locking{s: s, req: req, now: now, until: until}
	if err := s.tx.InTx(ctx, l.run); err != nil {
		return LockResult{}, err
	}
	return LockResult{Coupon: l.c, Discount: l.granted, Cut: l.cut, Replayed: l.replayed}, nil
}

// locking is the transaction of Lock, in one allocation rather than one
// per variable a closure would capture (Lock usually runs inside its
// caller's transaction, where every allocation is made under its locks).
type locking struct {
	s          *Service
	req        LockRequest
	now, until time.Time
	c          Coupon // as read, then as locked
	granted    money.Amount
	cut        bool
	replayed   bool
}

// run is one run of Lock's transaction.
func (l *locking) run(ctx context.Context) error {
	s, req, now := l.s, &l.req, l.now
	var err error
	if l.c, err = s.coupon(ctx, req.Tenant, req.CouponID); err != nil {
		return err
	}
	c := &l.c
	if req.UserID != "" && c.UserID != req.UserID {
		return fmt.Errorf("%w: coupon %s", ErrNotOwner, c.ID)
	}
	if (c.State == StateLocked || c.State == StateUsed) && c.OrderID == req.OrderID {
		l.granted, l.cut, l.replayed = c.Discount, c.BudgetCut, true
		return nil
	}
	l.replayed = false
	if _, err := s.life.next(c.ID, c.State, c.FrozenFrom, EventLock); err != nil {
		return err
	}
	if !c.ValidFrom.IsZero() && now.Before(c.ValidFrom) {
		return fmt.Errorf("%w: coupon %s is valid from %s", ErrNotStarted, c.ID, c.ValidFrom.Format(time.RFC3339))
	}
	if c.expiredAt(now) {
		return fmt.Errorf("%w: coupon %s was valid until %s", ErrExpired, c.ID, c.ValidUntil.Format(time.RFC3339))
	}
	tpl, comp, err := s.cachedTemplate(ctx, req.Tenant, c.TemplateID) // shared: only read
	if err != nil {
		return err
	}
	want := req.Discount
	if want.Currency().IsZero() {
		want = money.Zero(tpl.Benefit.Currency)
	}
	if want.Currency() != tpl.Benefit.Currency {
		return fmt.Errorf("%w: discount in %s, template %s in %s", ErrCurrencyMismatch, want.Currency().Code(), tpl.ID, tpl.Benefit.Currency.Code())
	}
	if !want.IsExact() {
		return fmt.Errorf("%w: discount %s has more decimals than its currency", ErrInvalidRequest, want)
	}
	if req.Cart != nil {
		if _, _, err := req.Cart.applicable(tpl); err != nil {
			return err
		}
	}
	if len(comp.rules) > 0 { // facts only for conditions to read
		if err := comp.check(ctx, tpl.ID, PhaseUse, cartFacts(facts(req.Facts, c.UserID, now), req.Cart)); err != nil {
			return err
		}
	}
	if tpl.Limits.PerOrder > 0 {
		_, ok, err := s.counters.AddCounter(ctx, req.Tenant, orderKey(tpl.ID, req.OrderID), 1, storage.AtMost(tpl.Limits.PerOrder))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: order %s, template %s (%d per order)", ErrOrderLimit, req.OrderID, tpl.ID, tpl.Limits.PerOrder)
		}
	}
	granted, cut, err := s.chargeBudget(ctx, tpl, want)
	if err != nil {
		return err
	}
	until := l.until
	l.granted, l.cut = granted, cut
	return s.apply(ctx, c, change{ev: EventLock, actor: defaulted(req.Actor, c.UserID), reason: "order " + req.OrderID}, func(c *Coupon) {
		c.OrderID, c.LockedUntil, c.Discount, c.BudgetCut = req.OrderID, until, granted, cut
	})
}

// chargeBudget takes want (or what is left, if less) from the template's
// budget with a bounded conditional add.
func (s *Service) chargeBudget(ctx context.Context, t *Template, want money.Amount) (money.Amount, bool, error) {
	if t.Limits.Budget.IsZero() {
		return want, false, nil
	}
	budget, err := t.Limits.Budget.Minor()
	if err != nil {
		return money.Amount{}, false, err
	}
	w, err := want.Minor()
	if err != nil {
		return money.Amount{}, false, err
	}
	key := budgetKey(t.ID)
	spent, err := s.counters.Counter(ctx, t.Tenant, key)
	if err != nil {
		return money.Amount{}, false, err
	}
	for range 8 {
		left := budget - spent
		if left <= 0 {
			return money.Amount{}, false, fmt.Errorf("%w: template %s", ErrBudgetExhausted, t.ID)
		}
		g := min(w, left)
		v, ok, err := s.counters.AddCounter(ctx, t.Tenant, key, g, storage.AtMost(budget))
		if err != nil {
			return money.Amount{}, false, err
		}
		if ok {
			return money.FromMinor(g, t.Benefit.Currency), g < w, nil
		}
		spent = v // someone else spent meanwhile: try again with what is left now
	}
	return money.Amount{}, false, fmt.Errorf("coupon: budget of %s is contended: %w", t.ID, storage.ErrConflict)
}

// refundBudget gives a granted discount back to the template's budget.
func (s *Service) refundBudget(ctx context.Context, t *Template, granted money.Amount) error {
	if t.Limits.Budget.IsZero() || granted.IsZero() {
		return nil
	}
	g, err := granted.Minor()
	if err != nil {
		return err
	}
	_, _, err = s.counters.AddCounter(ctx, t.Tenant, budgetKey(t.ID), -g, storage.AtLeast(0))
	return err
}

// OrderRequest names an order whose coupons a command handles.
type OrderRequest struct {
	Tenant  storage.TenantID
	OrderID string
	Actor   string
	Reason  string
}

func (r OrderRequest) validate() error {
	if err := r.Tenant.Validate(); err != nil {
		return err
	}
	return validID("order ID", r.OrderID)
}

// Use consumes the coupons locked for a paid order (LOCKED -> USED). A
// retried payment confirmation for the same order uses them once and
// returns the same coupons. A lock past its expiry that no sweep has
// released yet is still honoured: the order was paid.
//
// Errors: ErrInvalidRequest, ErrNotLocked (no coupon locked for or used
// by the order), *TransitionError (ErrFrozen: a coupon of the order was
// frozen meanwhile; then nothing is used).
func (s *Service) Use(ctx context.Context, req OrderRequest) ([]Coupon, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	u := &using{s: s, req: req}
	if err := s.tx.InTx(ctx, u.run); err != nil {
		return nil, err
	}
	return u.out, nil
}

// using is the transaction of Use, in one allocation.
type using struct {
	s   *Service
	req OrderRequest
	out []Coupon
}

// run is one run of Use's transaction.
func (u *using) run(ctx context.Context) error {
	s, req := u.s, &u.req
	u.out = nil
	cs, err := s.store.FindCoupons(ctx, Query{Tenant: req.Tenant, OrderID: req.OrderID})
	if err != nil {
		return err
	}
	u.out = cs[:0] // the coupons used, filtered in place: cs is this call's own
	for i := range cs {
		c := &cs[i]
		switch c.State {
		case StateUsed:
			u.out = append(u.out, *c)
			continue
		case StateRefunded:
			continue
		}
		if err := s.apply(ctx, c, change{ev: EventUse, actor: req.Actor, reason: defaulted(req.Reason, "order "+req.OrderID+" paid")}, func(c *Coupon) {
			c.LockedUntil = time.Time{}
		}); err != nil {
			return err
		}
		u.out = append(u.out, *c)
	}
	if len(u.out) == 0 {
		return fmt.Errorf("%w: order %s", ErrNotLocked, req.OrderID)
	}
	return nil
}

// Release returns the coupons locked for an order to ACTIVATED (order
// cancelled) and gives back their per-order count and budget. Releasing an
// order with no locked coupon does nothing and returns none, so a retried
// cancellation is harmless. Errors: ErrInvalidRequest.
func (s *Service) Release(ctx context.Context, req OrderRequest) ([]Coupon, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var out []Coupon
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		out = nil
		cs, err := s.store.FindCoupons(ctx, Query{Tenant: req.Tenant, OrderID: req.OrderID, States: []State{StateLocked}})
		if err != nil {
			return err
		}
		for _, c := range cs {
			if err := s.release(ctx, &c, change{ev: EventRelease, actor: req.Actor, reason: defaulted(req.Reason, "order "+req.OrderID+" cancelled")}); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// release moves one LOCKED coupon back to ACTIVATED and restores its
// template's counters.
func (s *Service) release(ctx context.Context, c *Coupon, ch change) error {
	tpl, _, err := s.template(ctx, c.Tenant, c.TemplateID)
	if err != nil {
		return err
	}
	order, granted := c.OrderID, c.Discount
	if err := s.apply(ctx, c, ch, func(c *Coupon) {
		c.OrderID, c.LockedUntil, c.Discount, c.BudgetCut = "", time.Time{}, money.Amount{}, false
	}); err != nil {
		return err
	}
	return s.restoreCounters(ctx, &tpl, order, granted)
}

func (s *Service) restoreCounters(ctx context.Context, tpl *Template, order string, granted money.Amount) error {
	if tpl.Limits.PerOrder > 0 {
		if _, _, err := s.counters.AddCounter(ctx, tpl.Tenant, orderKey(tpl.ID, order), -1, storage.AtLeast(0)); err != nil {
			return err
		}
	}
	return s.refundBudget(ctx, tpl, granted)
}

// CouponRequest names one coupon for a risk-control command.
type CouponRequest struct {
	Tenant   storage.TenantID
	CouponID string
	Actor    string
	Reason   string
}

func (s *Service) one(ctx context.Context, req CouponRequest, ev Event, mutate func(*Coupon)) (Coupon, error) {
	if err := req.Tenant.Validate(); err != nil {
		return Coupon{}, err
	}
	if err := validID("coupon ID", req.CouponID); err != nil {
		return Coupon{}, err
	}
	// out is read and moved inside the transaction, then returned: one
	// variable (one allocation) for the closure to capture.
	var out Coupon
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if out, err = s.coupon(ctx, req.Tenant, req.CouponID); err != nil {
			return err
		}
		return s.apply(ctx, &out, change{ev: ev, actor: req.Actor, reason: req.Reason}, mutate)
	})
	if err != nil {
		return Coupon{}, err
	}
	return out, nil
}

// Freeze holds an ACTIVATED or LOCKED coupon for risk control: it cannot
// be locked or used until Unfreeze. Errors: ErrInvalidRequest,
// ErrUnknownCoupon, *TransitionError (e.g. already FROZEN, or USED).
func (s *Service) Freeze(ctx context.Context, req CouponRequest) (Coupon, error) {
	return s.one(ctx, req, EventFreeze, func(c *Coupon) { c.FrozenFrom = c.State })
}

// Unfreeze returns a FROZEN coupon to the state it was frozen from
// (ACTIVATED, or LOCKED for its order). Errors: ErrInvalidRequest,
// ErrUnknownCoupon, *TransitionError (not frozen).
func (s *Service) Unfreeze(ctx context.Context, req CouponRequest) (Coupon, error) {
	return s.one(ctx, req, EventUnfreeze, func(c *Coupon) { c.FrozenFrom = "" })
}

// Refund handles a refunded order: its USED coupons go to REFUNDED, and
// with the template's RefundRestore on to ACTIVATED (usable again,
// within their validity). Either way the budget and per-order count
// they took are given back and they no longer count as used. Refunding
// again, or an order without used coupons, does nothing.
// Errors: ErrInvalidRequest.
func (s *Service) Refund(ctx context.Context, req OrderRequest) ([]Coupon, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var out []Coupon
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		out = nil
		cs, err := s.store.FindCoupons(ctx, Query{Tenant: req.Tenant, OrderID: req.OrderID, States: []State{StateUsed}})
		if err != nil {
			return err
		}
		for _, c := range cs {
			tpl, _, err := s.template(ctx, req.Tenant, c.TemplateID)
			if err != nil {
				return err
			}
			ch := change{ev: EventRefund, actor: req.Actor, reason: defaulted(req.Reason, "order "+req.OrderID+" refunded")}
			granted := c.Discount
			if err := s.apply(ctx, &c, ch, nil); err != nil {
				return err
			}
			if tpl.refundPolicy() == RefundRestore {
				ch.ev = EventRestore
				if err := s.apply(ctx, &c, ch, func(c *Coupon) {
					c.OrderID, c.Discount, c.BudgetCut = "", money.Amount{}, false
				}); err != nil {
					return err
				}
			}
			if err := s.restoreCounters(ctx, &tpl, req.OrderID, granted); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SweepResult counts what a sweep did.
type SweepResult struct {
	Done int // coupons moved
	// Skipped is true when another instance holds the sweep's lease.
	Skipped bool
}

// ExpireSweep moves up to limit ACTIVATED coupons past their validity to
// EXPIRED, under a lease so that one instance sweeps a tenant at a time.
// Each coupon moves in its own transaction; a coupon changed meanwhile is
// left for the next round. Errors: ErrInvalidRequest, storage errors.
func (s *Service) ExpireSweep(ctx context.Context, tenant storage.TenantID, limit int) (SweepResult, error) {
	return s.sweep(ctx, tenant, limit, "expire", func(now time.Time) Query {
		return Query{Tenant: tenant, States: []State{StateActivated}, ValidBefore: now}
	}, func(ctx context.Context, c *Coupon, now time.Time) error {
		if c.State != StateActivated || !c.expiredAt(now) {
			return nil
		}
		return s.apply(ctx, c, change{ev: EventExpire, actor: "sweep", reason: "validity over"}, nil)
	})
}

// ReleaseExpiredLocks releases up to limit LOCKED coupons whose lock has
// expired (the order was neither paid nor cancelled in time), restoring
// counts and budget, under a lease. Errors: ErrInvalidRequest, storage
// errors.
func (s *Service) ReleaseExpiredLocks(ctx context.Context, tenant storage.TenantID, limit int) (SweepResult, error) {
	return s.sweep(ctx, tenant, limit, "locks", func(now time.Time) Query {
		return Query{Tenant: tenant, States: []State{StateLocked}, LockedBefore: now}
	}, func(ctx context.Context, c *Coupon, now time.Time) error {
		if c.State != StateLocked || !c.LockedUntil.Before(now) {
			return nil
		}
		return s.release(ctx, c, change{ev: EventRelease, actor: "sweep", reason: "lock of order " + c.OrderID + " timed out"})
	})
}

func (s *Service) sweep(ctx context.Context, tenant storage.TenantID, limit int, name string, q func(time.Time) Query, fn func(context.Context, *Coupon, time.Time) error) (SweepResult, error) {
	if err := tenant.Validate(); err != nil {
		return SweepResult{}, err
	}
	if limit <= 0 {
		return SweepResult{}, fmt.Errorf("%w: sweep limit must be positive", ErrInvalidRequest)
	}
	now := s.clock.Now()
	lease := "coupon/" + name + "/" + string(tenant)
	_, ok, err := s.cfg.Leases.AcquireLease(ctx, lease, s.cfg.Owner, now, s.cfg.SweepLeaseTTL)
	if err != nil {
		return SweepResult{}, err
	}
	if !ok {
		return SweepResult{Skipped: true}, nil
	}
	defer func() { _ = s.cfg.Leases.ReleaseLease(context.WithoutCancel(ctx), lease, s.cfg.Owner) }()
	query := q(now)
	query.Limit = limit
	cs, err := s.store.FindCoupons(ctx, query)
	if err != nil {
		return SweepResult{}, err
	}
	var res SweepResult
	for _, found := range cs {
		moved := false
		err := s.tx.InTx(ctx, func(ctx context.Context) error {
			c, err := s.store.Coupon(ctx, tenant, found.ID)
			if err != nil {
				return err
			}
			v := c.Version
			if err := fn(ctx, &c, now); err != nil {
				return err
			}
			moved = c.Version != v
			return nil
		})
		if err != nil {
			return res, err
		}
		if moved {
			res.Done++
		}
	}
	return res, nil
}
