package settlement

import (
	"context"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

func decimalInt(n int) decimal.Decimal { return decimal.NewFromInt(int64(n)) }

// RefundItem asks to refund Quantity units of one line (ShippingLineID for
// the shipping fee).
type RefundItem struct {
	LineID   string
	Quantity int
}

// RefundRequest refunds units of an order's lines.
type RefundRequest struct {
	Tenant  storage.TenantID
	OrderID string
	// Key makes the refund idempotent (an after-sale request ID): the same
	// key with the same items returns the order; with other items,
	// ErrOrderMismatch.
	Key    string
	Items  []RefundItem
	Reason string
}

// Refund refunds units of a paid order in one transaction: PAID, FULFILLED
// or COMPLETED -> REFUNDING, then back to that state when something is
// left to refund, or on to REFUNDED when nothing is.
//
// Each refunded unit returns exactly its net: a line's net (its amount
// less its share of every discount, order-level ones included) is
// allocated over its units by largest remainder, and refunds take units in
// order, so refunding every unit in any number of steps returns the line's
// net to the minor unit; the lines not refunded keep their allocation. The
// refund goes back to the tenders in proportion to what each paid,
// cumulatively, so the last refund makes every tender whole. Before
// completion the money comes out of the clearing account; after it, each
// party gives back its share of the refunded units (its split of their
// gross less the discount it funded on them), so that after a full refund
// every party's clearing nets to zero. When the order is fully refunded,
// its coupons are refunded by their template's RefundPolicy (burnt, or
// restored to the customer); their budget is given back either way. The
// order, the ledger transfer, the clawback entries, the coupons and
// OrderRefunded commit together.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest (no key, no items,
// an unknown line, a quantity below 1 or beyond what is left of the line,
// a line named twice); ErrOrderNotFound; *TransitionError (not paid,
// cancelled, refunded, closed); ErrOrderMismatch (key reused); coupon,
// ledger and Store errors.
func (s *Service) Refund(ctx context.Context, req RefundRequest) (Order, error) {
	if err := req.Tenant.Validate(); err != nil {
		return Order{}, err
	}
	if err := validID("order ID", req.OrderID); err != nil {
		return Order{}, err
	}
	if err := validID("refund key", req.Key); err != nil {
		return Order{}, err
	}
	if len(req.Items) == 0 {
		return Order{}, fmt.Errorf("%w: refund %s has no items", ErrInvalidRequest, req.Key)
	}
	for i, it := range req.Items {
		if it.Quantity < 1 {
			return Order{}, fmt.Errorf("%w: refund of line %q: quantity %d, want at least 1", ErrInvalidRequest, it.LineID, it.Quantity)
		}
		for _, prev := range req.Items[:i] {
			if prev.LineID == it.LineID {
				return Order{}, fmt.Errorf("%w: refund names line %q twice", ErrInvalidRequest, it.LineID)
			}
		}
	}
	var out Order
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		o, err := s.load(ctx, req.Tenant, req.OrderID)
		if err != nil {
			return err
		}
		for _, r := range o.Refunds {
			if r.Key != req.Key {
				continue
			}
			if !sameItems(r.Lines, req.Items) {
				return fmt.Errorf("%w: refund key %q of order %s", ErrOrderMismatch, req.Key, o.ID)
			}
			out = o
			return nil
		}
		from := o.State
		if _, err := s.life.next(o.ID, o.State, EventRefund); err != nil {
			return err
		}
		now := s.clock.Now()
		weights := splitWeights(o.Split)
		rec := Refund{Seq: len(o.Refunds) + 1, Key: req.Key, Reason: req.Reason, At: now, AfterClearing: o.Cleared}
		var claw partyTotals
		var amount int64
		for _, it := range req.Items {
			idx := slices.IndexFunc(o.Lines, func(l OrderLine) bool { return l.ID == it.LineID })
			if idx < 0 {
				return fmt.Errorf("%w: order %s has no line %q", ErrInvalidRequest, o.ID, it.LineID)
			}
			l := &o.Lines[idx]
			if it.Quantity > l.Quantity-l.RefundedQty {
				return fmt.Errorf("%w: line %q has %d units left to refund, asked %d", ErrInvalidRequest, l.ID, l.Quantity-l.RefundedQty, it.Quantity)
			}
			c, err := o.calc(idx)
			if err != nil {
				return err
			}
			k, k2 := l.RefundedQty, l.RefundedQty+it.Quantity
			v := c.netOf(k, k2)
			if o.Cleared {
				if err := o.rangeShares(idx, k, k2, c, weights, &claw); err != nil {
					return err
				}
			}
			amount += v
			amt := money.FromMinor(v, o.Currency)
			l.RefundedQty = k2
			l.RefundedAmount, _ = l.RefundedAmount.Add(amt)
			rec.Lines = append(rec.Lines, RefundLine{LineID: l.ID, Quantity: it.Quantity, Amount: amt})
		}
		parts, err := tenderParts(&o, amount)
		if err != nil {
			return err
		}
		var legs []ledger.Leg
		var accounts []string
		for i, p := range parts {
			t := &o.Tenders[i]
			amt := money.FromMinor(p, o.Currency)
			rec.Tenders = append(rec.Tenders, amt)
			t.Refunded, _ = t.Refunded.Add(amt)
			if p == 0 {
				continue
			}
			acc := ledger.World
			if t.Kind == TenderGiftCard {
				acc = t.Account
				accounts = append(accounts, acc)
			}
			legs = append(legs, ledger.Leg{Account: acc, Amount: amt})
		}
		if !o.Cleared && amount != 0 {
			legs = append(legs, ledger.Leg{Account: ClearingAccount, Amount: money.FromMinor(-amount, o.Currency)})
		}
		rec.Amount = money.FromMinor(amount, o.Currency)
		rec.Clawback = claw.list(o.Currency)
		o.Refunded, _ = o.Refunded.Add(rec.Amount)
		o.Refunds = append(o.Refunds, rec)
		if err := s.postShares(ctx, &o, now, key(&o, "refund", rec.Seq), EntryClawback, legs, &claw, -1); err != nil {
			return err
		}
		full := true
		for _, l := range o.Lines {
			full = full && l.RefundedQty == l.Quantity
		}
		if full {
			if o.State, err = s.life.next(o.ID, StateRefunding, EventRefunded); err != nil {
				return err
			}
			if err := s.releasePromotions(ctx, &o); err != nil {
				return err
			}
			if len(o.Coupons) > 0 {
				if _, err := s.cfg.Coupons.Refund(ctx, coupon.OrderRequest{Tenant: o.Tenant, OrderID: o.ID, Actor: "settlement", Reason: req.Reason}); err != nil {
					return err
				}
			}
		} else if o.State, err = s.life.resume(o.ID, from); err != nil {
			return err
		}
		if err := s.save(ctx, &o, now); err != nil {
			return err
		}
		if err := s.emit(ctx, &o, TopicOrderRefunded, "OrderRefunded", rec.Amount.StringFixed()); err != nil {
			return err
		}
		out = o
		return nil
	})
	return out, err
}

func sameItems(lines []RefundLine, items []RefundItem) bool {
	if len(lines) != len(items) {
		return false
	}
	for i := range lines {
		if lines[i].LineID != items[i].LineID || lines[i].Quantity != items[i].Quantity {
			return false
		}
	}
	return true
}

// tenderParts splits a refund of amount minor units over the order's
// tenders in proportion to what each paid, cumulatively: after the
// refund, each tender has got back its largest-remainder share of
// everything refunded so far, except where that share would be below what
// it already got (largest remainder is not monotone), in which case the
// difference is taken from the largest other parts. No part is negative,
// no tender gets back more than it paid, and when everything is refunded
// every tender got back exactly what it paid.
func tenderParts(o *Order, amount int64) ([]int64, error) {
	n := len(o.Tenders)
	paid := make([]int64, n)
	done := make([]int64, n)
	var total, sofar int64
	for i, t := range o.Tenders {
		paid[i], done[i] = minor(t.Amount), minor(t.Refunded)
		total += paid[i]
		sofar += done[i]
	}
	parts := make([]int64, n)
	if amount == 0 {
		return parts, nil
	}
	if sofar+amount > total {
		return nil, fmt.Errorf("%w: refund of %d exceeds what is left (%d)", ErrNothingToRefund, amount, total-sofar)
	}
	target, err := money.AllocateMinor(sofar+amount, paid)
	if err != nil {
		return nil, err
	}
	var deficit int64
	for i := range parts {
		parts[i] = target[i] - done[i]
		if parts[i] < 0 {
			deficit -= parts[i]
			parts[i] = 0
		}
	}
	for deficit > 0 {
		big := 0
		for i := range parts {
			if parts[i] > parts[big] {
				big = i
			}
		}
		take := min(deficit, parts[big])
		parts[big] -= take
		deficit -= take
	}
	return parts, nil
}
