package settlement

import (
	"fmt"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
)

// quote builds the Quote from the outcomes of the last run: the only place
// where minor units become money.Amount.
func (e *engine) quote(offers []Offer, search Search, tried int) *Quote {
	cur := e.cur
	zero := money.Zero(cur) // Amounts are immutable: one zero serves all
	amt := func(v int64) money.Amount {
		if v == 0 {
			return zero
		}
		return money.FromMinor(v, cur)
	}
	n := len(e.lines)
	q := &Quote{
		Currency: cur,
		Lines:    make([]QuoteLine, n),
		Versions: make([]OfferVersion, len(offers)),
		Search:   search,
		Tried:    tried,
	}
	for j := range offers {
		q.Versions[j] = OfferVersion{OfferID: offers[j].ID, Version: offers[j].Version}
	}

	// Count what to allocate up front: one backing array per kind of slice,
	// and an Amount made once per part (Amounts are immutable values, so the
	// line's view and the discount's view share it).
	applied, parts, funders, rejected := 0, 0, 0, 0
	for _, oi := range e.order {
		out := &e.out[oi]
		if !out.applied {
			rejected++
			continue
		}
		applied++
		n := 0
		for _, p := range out.parts {
			if p > 0 {
				n++
			}
		}
		if out.ship > 0 {
			n++
		}
		parts += n
		funders += n * max(1, len(e.offers[oi].parties))
	}
	allocations := make([]Allocation, 0, parts)
	funding := make([]FundingPart, 0, funders)
	q.Discounts = make([]Discount, 0, applied)
	if rejected > 0 {
		q.Rejected = make([]Rejection, 0, rejected)
	}
	for _, oi := range e.order {
		o, out, of := &e.offers[oi], &e.out[oi], &offers[oi]
		if !out.applied {
			q.Rejected = append(q.Rejected, e.rejection(oi))
			continue
		}
		start := len(allocations)
		for i, p := range out.parts {
			if p > 0 {
				a := Allocation{LineID: e.cart.Lines[i].ID, Amount: amt(p)}
				funding, a.Funding = e.fund(funding, o, a.Amount, p, i)
				allocations = append(allocations, a)
			}
		}
		if out.ship > 0 {
			a := Allocation{Amount: amt(out.ship)}
			funding, a.Funding = e.fund(funding, o, a.Amount, out.ship, -1)
			allocations = append(allocations, a)
		}
		q.Discounts = append(q.Discounts, Discount{
			OfferID:     of.ID,
			Source:      of.Source,
			CouponID:    of.CouponID,
			TemplateID:  of.TemplateID,
			Kind:        o.kind,
			Wanted:      amt(out.wanted),
			Amount:      amt(out.given),
			Limits:      limits(out.limits),
			Allocations: allocations[start:len(allocations):len(allocations)],
		})
	}

	// Each line's parts, in the order the discounts applied: every
	// discount's allocations are in cart order, so one cursor each.
	cursor := make([]int, len(q.Discounts))
	lineDiscounts := make([]LineDiscount, 0, parts)
	for i := range n {
		start := len(lineDiscounts)
		id := e.cart.Lines[i].ID
		for x := range q.Discounts {
			d := &q.Discounts[x]
			if c := cursor[x]; c < len(d.Allocations) && d.Allocations[c].LineID == id {
				lineDiscounts = append(lineDiscounts, LineDiscount{OfferID: d.OfferID, Amount: d.Allocations[c].Amount})
				cursor[x]++
			}
		}
		l := &e.lines[i]
		ql := QuoteLine{
			ID:           id,
			Quantity:     e.cart.Lines[i].Quantity,
			Amount:       amt(l.amount),
			TaxInclusive: e.cart.Lines[i].TaxInclusive,
			Discounts:    lineDiscounts[start:len(lineDiscounts):len(lineDiscounts)],
		}
		switch disc := l.amount - e.remaining[i]; {
		case disc == 0:
			ql.Discount, ql.Final = zero, ql.Amount
		case disc == l.amount:
			ql.Discount, ql.Final = ql.Amount, zero
		case len(ql.Discounts) == 1:
			ql.Discount, ql.Final = ql.Discounts[0].Amount, amt(e.remaining[i])
		default:
			ql.Discount, ql.Final = amt(disc), amt(e.remaining[i])
		}
		q.Lines[i] = ql
	}

	var subtotal, lineDisc, shipDisc int64
	for i := range e.lines {
		subtotal += e.lines[i].amount
		lineDisc += e.lines[i].amount - e.remaining[i]
	}
	shipDisc = e.ship - e.shipLeft

	q.Subtotal = amt(subtotal)
	q.LineDiscount = amt(lineDisc)
	q.Shipping = amt(e.ship)
	q.ShippingDiscount = amt(shipDisc)
	q.Discount = amt(lineDisc + shipDisc)
	q.Total = amt(subtotal - lineDisc + e.ship - shipDisc)
	return q
}

// fund splits part (amount; of line i, or of the shipping fee when i < 0)
// among the offer's funders, appending to buf; it returns buf and the view
// of the new parts.
func (e *engine) fund(buf []FundingPart, o *poffer, amount money.Amount, part int64, i int) ([]FundingPart, []FundingPart) {
	start := len(buf)
	if o.parties == nil {
		buf = append(buf, FundingPart{Party: e.party(o.party, i), Amount: amount})
		return buf, buf[start:len(buf):len(buf)]
	}
	split, err := money.AllocateMinor(part, o.weights)
	if err != nil { // cannot happen: the ratios sum to 1
		panic(fmt.Sprintf("settlement: funding split: %v", err))
	}
	for x, v := range split {
		a := amount
		if v != part {
			a = money.FromMinor(v, e.cur)
		}
		buf = append(buf, FundingPart{Party: e.party(o.parties[x], i), Amount: a})
	}
	return buf, buf[start:len(buf):len(buf)]
}

// party resolves "merchant" to the merchant of line i (of the shipping fee
// when i < 0); an unknown merchant stays "merchant".
func (e *engine) party(p string, i int) string {
	if p != coupon.PartyMerchant {
		return p
	}
	m := e.cart.ShippingMerchant
	if i >= 0 {
		m = e.cart.Lines[i].Merchant
	}
	if m == "" {
		return p
	}
	if e.merchants == nil {
		e.merchants = make([]string, len(e.lines)+1)
	}
	c := &e.merchants[i+1]
	if *c == "" {
		*c = coupon.PartyMerchant + ":" + m
	}
	return *c
}

func limits(l uint8) []Limit {
	if l == 0 {
		return nil
	}
	var out []Limit
	if l&limEligible != 0 {
		out = append(out, LimitEligible)
	}
	if l&limCap != 0 {
		out = append(out, LimitCap)
	}
	if l&limBudget != 0 {
		out = append(out, LimitBudget)
	}
	return out
}

// rejection explains why offer oi did not apply.
func (e *engine) rejection(oi int) Rejection {
	o, out := &e.offers[oi], &e.out[oi]
	r := Rejection{OfferID: o.id, Source: SourcePromotion, CouponID: o.couponID, Reason: out.reason}
	if o.coupon {
		r.Source = SourceCoupon
	}
	if out.by >= 0 {
		r.By = e.offers[out.by].id
	}
	amt := func(v int64) string { return money.FromMinor(v, e.cur).String() }
	switch out.reason {
	case ReasonCurrencyMismatch:
		what := "benefit"
		if out.note == noteBudgetCurrency {
			what = "budget"
		}
		r.Detail = fmt.Sprintf("%s in %s, cart in %s", what, o.noteCurIn.Code(), e.cur.Code())
	case ReasonNotADiscount:
		r.Detail = fmt.Sprintf("%s is a tender, not a price discount", o.kind)
	case ReasonDuplicateCoupon:
		r.Detail = fmt.Sprintf("coupon %q is already used by offer %q", o.couponID, r.By)
	case ReasonOutOfScope:
		r.Detail = "no line in scope"
		if out.note == noteGetScope {
			r.Detail = "no line in the get scope"
		}
	case ReasonNotChosen:
		r.Detail = "the best combination saves as much or more without it"
	case ReasonExclusiveConflict:
		if o.exclusive {
			r.Detail = fmt.Sprintf("exclusive, and offer %q applies", r.By)
		} else {
			r.Detail = fmt.Sprintf("offer %q is exclusive", r.By)
		}
	case ReasonGroupTaken:
		r.Detail = fmt.Sprintf("group %q is taken by offer %q", o.group, r.By)
	case ReasonBudgetExhausted:
		r.Detail = "no budget left"
	case ReasonBelowMinSpend:
		r.Detail = fmt.Sprintf("eligible %s is below the minimum spend %s", amt(out.have), amt(out.need))
	case ReasonNoTierReached:
		if out.note == noteQuantity {
			r.Detail = fmt.Sprintf("%d eligible units are below the lowest tier of %d", out.have, out.need)
		} else {
			r.Detail = fmt.Sprintf("eligible %s is below the lowest tier %s", amt(out.have), amt(out.need))
		}
	case ReasonNotEnoughUnits:
		r.Detail = fmt.Sprintf("%d units in scope do not make a full set of buy %d get %d", out.have, o.buy, o.get)
	case ReasonNothingToDiscount:
		if out.note == noteNoShipping {
			r.Detail = "no shipping fee left to discount"
		} else {
			r.Detail = "the discount rounds to zero or earlier discounts left nothing"
		}
	}
	return r
}
