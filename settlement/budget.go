package settlement

import (
	"context"
	"fmt"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Budgets of automatic promotions. A coupon's discount is charged to its
// template's budget by the coupon's lock (package coupon); a promotion has
// no coupon to lock, so settlement charges its discount to a bounded
// counter of its own (storage.CounterStore), in the transaction that
// creates the order: the snapshot's BudgetLeft priced the order, the
// counter re-checks it atomically (a conditional add on PostgreSQL and
// SQLite, the store's lock in memory), and an order the budget can no
// longer cover fails with ErrRequote. Cancelling the order, or refunding
// all of it, gives the amount back.

// promotionBudgetKey names the counter of what a template's automatic
// promotion has spent, in minor units of the template's currency.
func promotionBudgetKey(templateID string) string {
	return "settlement/promotion/" + templateID + "/budget"
}

// promotionCharge is a promotion discount of a new order to charge to its
// template's budget.
type promotionCharge struct {
	discount int // index in Order.Discounts
	template string
	amount   int64 // minor units
	budget   int64 // the template's whole budget, minor units
}

// promotionCharges finds the discounts of o that automatic promotions
// with a budget granted (their snapshot carries BudgetLeft), marks them
// Budgeted, and reads each template's budget: the bound of the atomic
// charge. It reads before the transaction: a budget is configuration, the
// counter is what moves. Errors: ErrInvalidRequest (no coupon service or
// counter store to check a budget with), coupon.ErrUnknownTemplate, the
// coupon store's errors.
func (s *Service) promotionCharges(ctx context.Context, o *Order, offers []Offer) ([]promotionCharge, error) {
	var out []promotionCharge
	for i := range o.Discounts {
		d := &o.Discounts[i]
		if d.CouponID != "" || !d.Amount.IsPositive() {
			continue
		}
		of := offerByID(offers, d.OfferID)
		if of == nil || of.BudgetLeft == nil || of.Source != SourcePromotion {
			continue
		}
		if s.cfg.Coupons == nil || s.cfg.Counters == nil {
			return nil, fmt.Errorf("%w: promotion %s has a budget, but no coupon service or counter store is configured to check it",
				ErrInvalidRequest, d.OfferID)
		}
		t, err := s.cfg.Coupons.Template(ctx, o.Tenant, d.TemplateID)
		if err != nil {
			return nil, fmt.Errorf("settlement: promotion %s: %w", d.OfferID, err)
		}
		if t.Limits.Budget.IsZero() {
			continue // the budget was lifted since the snapshot
		}
		if t.Limits.Budget.Currency() != o.Currency {
			return nil, fmt.Errorf("%w: promotion %s: %w", ErrCurrencyMismatch, d.OfferID,
				&money.MismatchError{Op: "budget", Left: o.Currency, Right: t.Limits.Budget.Currency()})
		}
		budget, err := t.Limits.Budget.Minor()
		if err != nil {
			return nil, fmt.Errorf("%w: promotion %s budget: %w", ErrInvalidOffer, d.OfferID, err)
		}
		d.Budgeted = true
		out = append(out, promotionCharge{discount: i, template: t.ID, amount: minor(d.Amount), budget: budget})
	}
	return out, nil
}

func offerByID(offers []Offer, id string) *Offer {
	for i := range offers {
		if offers[i].ID == id {
			return &offers[i]
		}
	}
	return nil
}

// chargePromotions charges the promotions' discounts to their budgets
// inside the transaction in ctx, each one conditional add bounded by the
// budget. ErrRequote (also matching coupon.ErrBudgetExhausted) when a
// budget no longer covers its discount.
func (s *Service) chargePromotions(ctx context.Context, o *Order, charges []promotionCharge) error {
	for _, c := range charges {
		spent, ok, err := s.cfg.Counters.AddCounter(ctx, o.Tenant, promotionBudgetKey(c.template), c.amount, storage.AtMost(c.budget))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: promotion %s: its budget has %s left, the quote grants %s: %w", ErrRequote, c.template,
				money.FromMinor(max(c.budget-spent, 0), o.Currency), o.Discounts[c.discount].Amount, coupon.ErrBudgetExhausted)
		}
	}
	return nil
}

// releasePromotions gives the order's budgeted promotion discounts back
// to their budgets (the order was cancelled or fully refunded), inside
// the transaction in ctx.
func (s *Service) releasePromotions(ctx context.Context, o *Order) error {
	for _, d := range o.Discounts {
		if !d.Budgeted {
			continue
		}
		if s.cfg.Counters == nil {
			return fmt.Errorf("%w: order %s charged a promotion budget, but no counter store is configured", ErrInvalidConfig, o.ID)
		}
		if _, _, err := s.cfg.Counters.AddCounter(ctx, o.Tenant, promotionBudgetKey(d.TemplateID), -minor(d.Amount), storage.AtLeast(0)); err != nil {
			return err
		}
	}
	return nil
}

// promotionBudgetLeft is what the budget of t's automatic promotion has
// left (nil: no budget), for the offer snapshot.
func (s *Service) promotionBudgetLeft(ctx context.Context, tenant storage.TenantID, t *coupon.Template) (*money.Amount, error) {
	if t.Limits.Budget.IsZero() {
		return nil, nil
	}
	if s.cfg.Counters == nil {
		return nil, fmt.Errorf("%w: promotion %s has a budget, but no counter store is configured", ErrInvalidRequest, t.ID)
	}
	spent, err := s.cfg.Counters.Counter(ctx, tenant, promotionBudgetKey(t.ID))
	if err != nil {
		return nil, err
	}
	left, err := t.Limits.Budget.Sub(money.FromMinor(spent, t.Limits.Budget.Currency()))
	if err != nil {
		return nil, err
	}
	return &left, nil
}
