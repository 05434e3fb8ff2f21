package settlement

import (
	"github.com/rewardkit/rewardkit/money"
)

// fillOrder sets o's totals, lines and discounts from the engine's
// outcome, the numbers Price's Quote carries, read in minor units rather
// than through a Quote: every part is added up as an integer and becomes
// an Amount once. A line's funding is each party's total of the
// discounts' parts on it (parties in the order they first fund it, zero
// totals left out); a discount's funding is each party's total over its
// parts (parties in the order they first appear, as Discount.ByParty).
func (e *engine) fillOrder(o *Order, offers []Offer) {
	n := len(e.lines)
	amount := func(v int64) money.Amount { return money.FromMinor(v, e.cur) }
	zero := money.Zero(e.cur)
	// Every funding total goes into one list, keyed by slot: slot i < n is
	// line i, slot n the shipping fee, slot n+1+k the k-th discount.
	var acc fundTotals
	var splitBuf [fundingSplitBuf]int64
	applied := 0
	for _, oi := range e.order {
		out := &e.out[oi]
		if !out.applied {
			continue
		}
		dslot := n + 1 + applied
		applied++
		po := &e.offers[oi]
		add := func(i int, part int64) {
			slot := i
			if i < 0 {
				slot = n
			}
			if po.parties == nil {
				p := e.party(po.party, i)
				acc.add(dslot, p, part)
				acc.add(slot, p, part)
				return
			}
			for x, v := range fundingSplit(splitBuf[:], part, po.weights) {
				p := e.party(po.parties[x], i)
				acc.add(dslot, p, v)
				acc.add(slot, p, v)
			}
		}
		for i, p := range out.parts {
			if p > 0 {
				add(i, p)
			}
		}
		if out.ship > 0 {
			add(-1, out.ship)
		}
	}
	parts := make([]FundingPart, 0, acc.n) // one backing array for every funding list
	list := func(slot int, keepZero bool) []FundingPart {
		start := len(parts)
		for i := range acc.n {
			if r := acc.row(i); r.slot == slot && (r.v != 0 || keepZero) {
				parts = append(parts, FundingPart{Party: r.party, Amount: amount(r.v)})
			}
		}
		if len(parts) == start {
			return nil
		}
		return parts[start:len(parts):len(parts)]
	}

	if applied > 0 {
		o.Discounts = make([]AppliedDiscount, 0, applied)
	}
	coupons := 0
	for _, oi := range e.order {
		out := &e.out[oi]
		if !out.applied {
			continue
		}
		of := &offers[oi]
		o.Discounts = append(o.Discounts, AppliedDiscount{OfferID: of.ID, CouponID: of.CouponID, TemplateID: of.TemplateID,
			Amount: amount(out.given), Funding: list(n+1+len(o.Discounts), true)})
		if of.CouponID != "" {
			coupons++
		}
	}
	if coupons > 0 {
		o.Coupons = make([]string, 0, coupons)
		for _, d := range o.Discounts {
			if d.CouponID != "" {
				o.Coupons = append(o.Coupons, d.CouponID)
			}
		}
	}

	lines := n
	if e.ship > 0 {
		lines++
	}
	o.Lines = make([]OrderLine, 0, lines)
	var subtotal, disc int64
	for i := range e.lines {
		l, cl := &e.lines[i], &e.cart.Lines[i]
		d := l.amount - e.remaining[i]
		subtotal += l.amount
		disc += d
		a := amount(l.amount)
		o.Lines = append(o.Lines, OrderLine{ID: cl.ID, SKU: cl.SKU, Category: cl.Category, Merchant: cl.Merchant, UnitPrice: cl.UnitPrice,
			Quantity: cl.Quantity, Amount: a, Discount: amount(d), Net: amount(e.remaining[i]), Funding: list(i, false), RefundedAmount: zero})
	}
	if e.ship > 0 {
		d := e.ship - e.shipLeft
		subtotal += e.ship
		disc += d
		a := amount(e.ship)
		o.Lines = append(o.Lines, OrderLine{ID: ShippingLineID, Merchant: e.cart.ShippingMerchant, UnitPrice: a, Quantity: 1, Amount: a,
			Discount: amount(d), Net: amount(e.shipLeft), Funding: list(n, false), RefundedAmount: zero})
	}
	o.Subtotal, o.Discount, o.Total, o.Refunded = amount(subtotal), amount(disc), amount(subtotal-disc), zero
}

// fundTotals adds up signed minor amounts per (slot, party), keeping the
// order in which each slot's parties first appear. An order has a few
// dozen rows at most, so a list searched from the end beats a map; the
// first rows are kept in the struct itself, which lives on the stack.
type fundTotals struct {
	buf  [32]fundRow
	n    int
	more []fundRow // the rows past buf
}

type fundRow struct {
	slot  int
	party string
	v     int64
}

func (f *fundTotals) row(i int) *fundRow {
	if i < len(f.buf) {
		return &f.buf[i]
	}
	return &f.more[i-len(f.buf)]
}

func (f *fundTotals) add(slot int, party string, v int64) {
	for i := f.n - 1; i >= 0; i-- {
		if r := f.row(i); r.slot == slot && r.party == party {
			r.v += v
			return
		}
	}
	if f.n < len(f.buf) {
		f.buf[f.n] = fundRow{slot, party, v}
	} else {
		f.more = append(f.more, fundRow{slot, party, v})
	}
	f.n++
}
