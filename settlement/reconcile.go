package settlement

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// MismatchKind names a disagreement between orders, coupons and the
// ledger.
type MismatchKind string

// The mismatch kinds.
const (
	// MismatchMissingPosting: a ledger transaction (or hold) the order
	// implies does not exist.
	MismatchMissingPosting MismatchKind = "missing_posting"
	// MismatchAmount: a ledger transaction or clearing entry exists with
	// another amount than the order implies.
	MismatchAmount MismatchKind = "amount"
	// MismatchUnexpectedPosting: a ledger transaction exists for a step
	// the order never took (a payment of an unpaid order).
	MismatchUnexpectedPosting MismatchKind = "unexpected_posting"
	// MismatchOrphanHold: a gift card hold is still open though its order
	// was paid, cancelled or is gone.
	MismatchOrphanHold MismatchKind = "orphan_hold"
	// MismatchCouponUnpaid: a coupon is USED by an order that does not
	// exist or was never paid.
	MismatchCouponUnpaid MismatchKind = "coupon_used_without_paid_order"
	// MismatchCouponState: an order's coupon is not in the state the
	// order's state implies (a paid order's coupon not USED by it, a
	// cancelled order's coupon still LOCKED, ...).
	MismatchCouponState MismatchKind = "coupon_state"
)

// Mismatch is one disagreement found by Reconcile.
type Mismatch struct {
	Kind     MismatchKind
	OrderID  string
	CouponID string
	HoldID   string
	TxKey    string // the ledger transaction's key
	Account  string // the account whose amount differs
	Want     money.Amount
	Got      money.Amount
	Detail   string
}

func (m Mismatch) String() string {
	s := string(m.Kind)
	for _, kv := range [][2]string{{"order", m.OrderID}, {"coupon", m.CouponID}, {"hold", m.HoldID}, {"tx", m.TxKey}, {"account", m.Account}} {
		if kv[1] != "" {
			s += " " + kv[0] + "=" + kv[1]
		}
	}
	if !m.Want.Currency().IsZero() || !m.Got.Currency().IsZero() {
		s += fmt.Sprintf(" want=%s got=%s", m.Want, m.Got)
	}
	if m.Detail != "" {
		s += ": " + m.Detail
	}
	return s
}

// Report is the result of Reconcile.
type Report struct {
	Tenant     storage.TenantID
	Orders     int // orders checked
	Coupons    int // coupons checked by listing
	Postings   int // ledger transactions checked
	Holds      int // open holds into the clearing account checked by listing
	Mismatches []Mismatch
}

// OK reports whether nothing disagreed.
func (r *Report) OK() bool { return len(r.Mismatches) == 0 }

func (r *Report) add(m Mismatch) { r.Mismatches = append(r.Mismatches, m) }

// Reconcile compares every order of the tenant with the ledger and the
// coupons and reports every mismatch: each ledger transaction an order's
// payment, captures, clearing and refunds imply must exist with exactly
// the amounts the order implies (recomputed from the order, per account),
// and its clearing entries must match; gift card holds must be open only
// while the order waits for payment; the order's coupons must be LOCKED,
// USED or released as its state implies. With Config.CouponStore, every
// USED coupon of the tenant must belong to a paid order, and every open
// ledger hold into the clearing account must belong to an order (an
// orphan hold, MismatchOrphanHold). It only reads.
//
// Errors: storage.ErrInvalidTenant, ledger, coupon and Store errors.
func (s *Service) Reconcile(ctx context.Context, tenant storage.TenantID) (Report, error) {
	if err := tenant.Validate(); err != nil {
		return Report{}, err
	}
	rep := Report{Tenant: tenant}
	states := map[string]OrderState{}
	holds := map[string]bool{} // the holds the orders name
	after := ""
	for {
		page, err := s.store.FindOrders(ctx, OrderQuery{Tenant: tenant, AfterID: after, Limit: 500})
		if err != nil {
			return rep, err
		}
		for i := range page {
			o := &page[i]
			states[o.ID] = o.State
			for _, t := range o.Tenders {
				if t.HoldID != "" {
					holds[t.HoldID] = true
				}
			}
			rep.Orders++
			if err := s.reconcileOrder(ctx, o, &rep); err != nil {
				return rep, fmt.Errorf("settlement: reconcile order %s: %w", o.ID, err)
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	if err := s.reconcileHolds(ctx, tenant, holds, &rep); err != nil {
		return rep, err
	}
	if s.cfg.CouponStore != nil {
		after := ""
		for {
			cs, err := s.cfg.CouponStore.FindCoupons(ctx, coupon.Query{Tenant: tenant, States: []coupon.State{coupon.StateUsed}, AfterID: after, Limit: 500})
			if err != nil {
				return rep, err
			}
			for _, c := range cs {
				rep.Coupons++
				st, ok := states[c.OrderID]
				if !ok {
					rep.add(Mismatch{Kind: MismatchCouponUnpaid, CouponID: c.ID, OrderID: c.OrderID, Detail: "the order does not exist"})
				} else if !wasPaid(st) {
					rep.add(Mismatch{Kind: MismatchCouponUnpaid, CouponID: c.ID, OrderID: c.OrderID, Detail: "the order is " + string(st)})
				}
			}
			if len(cs) < 500 {
				break
			}
			after = cs[len(cs)-1].ID
		}
	}
	return rep, nil
}

// reconcileHolds reports every open hold into the clearing account that
// no order names (the orders' own holds are checked with the orders).
func (s *Service) reconcileHolds(ctx context.Context, tenant storage.TenantID, named map[string]bool, rep *Report) error {
	const page = 500
	after := ""
	for {
		holds, err := s.ledger.OpenHolds(ctx, tenant, ClearingAccount, after, page)
		if err != nil {
			return fmt.Errorf("settlement: reconcile holds: %w", err)
		}
		for _, h := range holds {
			rep.Holds++
			if named[h.ID] {
				continue
			}
			m := Mismatch{Kind: MismatchOrphanHold, OrderID: h.Metadata["order"], HoldID: h.ID, Account: h.Account,
				Want: money.Zero(h.Amount.Currency()), Got: h.Remaining(), Detail: "open hold into the clearing account that no order names"}
			if m.OrderID == "" {
				m.Detail = "open hold into the clearing account without an order"
			}
			rep.add(m)
		}
		if len(holds) < page {
			return nil
		}
		after = holds[len(holds)-1].ID
	}
}

func wasPaid(st OrderState) bool {
	switch st {
	case StatePaid, StateFulfilled, StateCompleted, StateRefunding, StateRefunded, StateClosed:
		return true
	}
	return false
}

// legs accumulates signed minor amounts per account.
type legs map[string]int64

func (s *Service) reconcileOrder(ctx context.Context, o *Order, rep *Report) error {
	paid := wasPaid(o.State)
	// ledger transactions the order implies
	want := map[string]legs{}
	var keys []string
	expect := func(k string, l legs) {
		for a, v := range l {
			if v == 0 {
				delete(l, a)
			}
		}
		if len(l) == 0 {
			return
		}
		want[k] = l
		keys = append(keys, k)
	}
	if paid {
		if cash := minor(o.Tenders[0].Amount); cash > 0 {
			expect(key(o, "pay"), legs{ledger.World: -cash, ClearingAccount: cash})
		}
		for i, t := range o.Tenders {
			if t.Kind == TenderGiftCard {
				v := minor(t.Amount)
				expect(key(o, "capture", i), legs{t.Account: -v, ClearingAccount: v})
			}
		}
	} else if _, err := s.ledger.TransactionByKey(ctx, o.Tenant, key(o, "pay")); err == nil {
		rep.add(Mismatch{Kind: MismatchUnexpectedPosting, OrderID: o.ID, TxKey: key(o, "pay"), Detail: "payment posted for an order that is " + string(o.State)})
	} else if !errors.Is(err, ledger.ErrTransactionNotFound) {
		return err
	}
	entries := map[string]legs{} // tx key -> party -> amount
	if o.Cleared {
		weights := splitWeights(o.Split)
		var shares partyTotals
		var total int64
		for i := range o.Lines {
			from := o.ClearedUnits[i]
			c, err := o.calc(i)
			if err != nil {
				return err
			}
			if err := o.rangeShares(i, from, o.Lines[i].Quantity, c, weights, &shares); err != nil {
				return err
			}
			total += c.netOf(from, o.Lines[i].Quantity)
		}
		l := legs{ClearingAccount: -total}
		e := legs{}
		for i, p := range shares.parties {
			l[PayableAccount(p)] += shares.amounts[i]
			e[p] += shares.amounts[i]
		}
		expect(key(o, "clear"), l)
		entries[key(o, "clear")] = e
	}
	for _, r := range o.Refunds {
		l := legs{}
		for i, p := range r.Tenders {
			acc := ledger.World
			if o.Tenders[i].Kind == TenderGiftCard {
				acc = o.Tenders[i].Account
			}
			l[acc] += minor(p)
		}
		e := legs{}
		if r.AfterClearing {
			for _, c := range r.Clawback {
				l[PayableAccount(c.Party)] -= minor(c.Amount)
				e[c.Party] -= minor(c.Amount)
			}
		} else {
			l[ClearingAccount] -= minor(r.Amount)
		}
		k := key(o, "refund", r.Seq)
		expect(k, l)
		entries[k] = e
	}
	for _, k := range keys {
		rep.Postings++
		tx, err := s.ledger.TransactionByKey(ctx, o.Tenant, k)
		if errors.Is(err, ledger.ErrTransactionNotFound) {
			rep.add(Mismatch{Kind: MismatchMissingPosting, OrderID: o.ID, TxKey: k, Detail: "no ledger transaction"})
			continue
		}
		if err != nil {
			return err
		}
		got := legs{}
		for _, p := range tx.Postings {
			if p.Amount.Currency() != o.Currency {
				rep.add(Mismatch{Kind: MismatchAmount, OrderID: o.ID, TxKey: k, Detail: "posting in " + p.Amount.Currency().Code()})
				continue
			}
			v := minor(p.Amount)
			got[p.Source] -= v
			got[p.Destination] += v
		}
		diffLegs(rep, o, k, want[k], got, "")
	}
	// clearing entries
	if len(entries) > 0 {
		es, err := s.store.Entries(ctx, o.Tenant, o.ID, "")
		if err != nil {
			return err
		}
		got := map[string]legs{}
		for _, e := range es {
			if got[e.TxKey] == nil {
				got[e.TxKey] = legs{}
			}
			got[e.TxKey][e.Party] += minor(e.Amount)
		}
		for k, w := range entries {
			for p, v := range w {
				if v == 0 {
					delete(w, p)
				}
			}
			diffLegs(rep, o, k, w, got[k], "clearing entry of party ")
		}
	}
	// holds
	for _, t := range o.Tenders {
		if t.HoldID == "" {
			continue
		}
		h, err := s.ledger.HoldByID(ctx, o.Tenant, t.HoldID)
		if errors.Is(err, ledger.ErrHoldNotFound) {
			rep.add(Mismatch{Kind: MismatchMissingPosting, OrderID: o.ID, HoldID: t.HoldID, Detail: "no such hold"})
			continue
		}
		if err != nil {
			return err
		}
		if h.Status == ledger.HoldOpen && o.State != StateCreated {
			rep.add(Mismatch{Kind: MismatchOrphanHold, OrderID: o.ID, HoldID: h.ID, Account: h.Account, Want: money.Zero(o.Currency),
				Got: h.Remaining(), Detail: "hold still open for an order that is " + string(o.State)})
		}
		if paid && h.Status != ledger.HoldCaptured {
			rep.add(Mismatch{Kind: MismatchMissingPosting, OrderID: o.ID, HoldID: h.ID, Detail: "hold of a paid order is " + h.Status.String()})
		}
	}
	// coupons
	if len(o.Coupons) > 0 && s.cfg.Coupons != nil {
		for _, id := range o.Coupons {
			c, err := s.cfg.Coupons.Coupon(ctx, o.Tenant, id)
			if errors.Is(err, coupon.ErrUnknownCoupon) {
				rep.add(Mismatch{Kind: MismatchCouponState, OrderID: o.ID, CouponID: id, Detail: "no such coupon"})
				continue
			}
			if err != nil {
				return err
			}
			ok := true
			var wantState string
			switch {
			case o.State == StateCreated:
				ok, wantState = c.State == coupon.StateLocked && c.OrderID == o.ID, "LOCKED by the order"
			case o.State == StateCancelled:
				ok, wantState = c.OrderID != o.ID || (c.State != coupon.StateLocked && c.State != coupon.StateUsed), "released"
			case o.State == StateRefunded || (o.State == StateClosed && o.Refundable().IsZero()):
				ok, wantState = c.State != coupon.StateUsed || c.OrderID != o.ID, "refunded"
			default:
				ok, wantState = c.State == coupon.StateUsed && c.OrderID == o.ID, "USED by the order"
			}
			if !ok {
				rep.add(Mismatch{Kind: MismatchCouponState, OrderID: o.ID, CouponID: id,
					Detail: fmt.Sprintf("order is %s, coupon is %s for order %q, want %s", o.State, c.State, c.OrderID, wantState)})
			}
		}
	}
	return nil
}

func diffLegs(rep *Report, o *Order, k string, want, got legs, what string) {
	var accs []string
	for a := range want {
		accs = append(accs, a)
	}
	for a := range got {
		if _, ok := want[a]; !ok {
			accs = append(accs, a)
		}
	}
	sort.Strings(accs)
	for _, a := range accs {
		if want[a] != got[a] {
			rep.add(Mismatch{Kind: MismatchAmount, OrderID: o.ID, TxKey: k, Account: a, Detail: what + a,
				Want: money.FromMinor(want[a], o.Currency), Got: money.FromMinor(got[a], o.Currency)})
		}
	}
}
