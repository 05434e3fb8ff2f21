package settlement

import (
	"math/bits"
	"strconv"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
)

// quote builds the Quote from the outcomes of the last run: the only place
// where minor units become money.Amount.
//
// Every slice costs an allocation, so this counts first and then fills
// one backing array per kind of slice in place. Amounts made from minor
// units cost nothing (money keeps them as integers), and equal ones are
// alike field by field, so each field is simply made from its minor units.
func (e *engine) quote(offers []Offer, search Search, tried int) *Quote {
	cur := e.cur
	n := len(e.lines)
	q := &Quote{Currency: cur, Search: search, Tried: tried}
	q.Lines = make([]QuoteLine, n)
	q.Versions = make([]OfferVersion, len(offers))
	for j := range offers {
		v := &q.Versions[j]
		v.OfferID, v.Version = offers[j].ID, offers[j].Version
	}

	// Count, and place each line's parts (pos[i]: where line i's next part
	// goes in lineDiscounts). The engine's scratch is free once it has run.
	pos := e.base
	clear(pos)
	var applied, rejected, allocs, lineParts, funders, nlim int
	for _, oi := range e.order {
		out := &e.out[oi]
		if !out.applied {
			rejected++
			continue
		}
		applied++
		k := 0
		for i, p := range out.parts {
			if p > 0 {
				k++
				pos[i]++
			}
		}
		lineParts += k
		if out.ship > 0 {
			k++
		}
		allocs += k
		funders += k * max(1, len(e.offers[oi].parties))
		nlim += bits.OnesCount8(out.limits)
	}
	var at int64
	for i, c := range pos {
		pos[i], at = at, at+c
	}
	allocations := make([]Allocation, allocs)
	funding := make([]FundingPart, funders)
	lineDiscounts := make([]LineDiscount, lineParts)
	q.Discounts = make([]Discount, applied)
	if rejected > 0 {
		q.Rejected = make([]Rejection, rejected)
	}
	var lims []Limit
	if nlim > 0 {
		lims = make([]Limit, 0, nlim)
	}

	var a, f, d, r int // next allocation, funding part, discount, rejection
	for _, oi := range e.order {
		o, out, of := &e.offers[oi], &e.out[oi], &offers[oi]
		if !out.applied {
			e.rejection(&q.Rejected[r], oi)
			r++
			continue
		}
		start := a
		for i, p := range out.parts {
			if p <= 0 {
				continue
			}
			al := &allocations[a]
			a++
			al.LineID = e.cart.Lines[i].ID
			al.Amount = money.FromMinor(p, cur)
			f = e.fund(funding, f, o, al, p, i)
			ld := &lineDiscounts[pos[i]]
			pos[i]++
			ld.OfferID, ld.Amount = of.ID, al.Amount
		}
		if out.ship > 0 {
			al := &allocations[a]
			a++
			al.Amount = money.FromMinor(out.ship, cur)
			f = e.fund(funding, f, o, al, out.ship, -1)
		}
		dq := &q.Discounts[d]
		d++
		dq.OfferID, dq.Source, dq.CouponID, dq.TemplateID, dq.Kind = of.ID, of.Source, of.CouponID, of.TemplateID, o.kind
		dq.Allocations = allocations[start:a:a]
		dq.Amount, dq.Wanted = money.FromMinor(out.given, cur), money.FromMinor(out.wanted, cur)
		if out.limits != 0 {
			s := len(lims)
			lims = appendLimits(lims, out.limits)
			dq.Limits = lims[s:len(lims):len(lims)]
		}
	}

	var subtotal, lineDisc int64
	var from int64 // line i's parts are lineDiscounts[from:pos[i]]
	for i := range n {
		l, cl, ql := &e.lines[i], &e.cart.Lines[i], &q.Lines[i]
		subtotal += l.amount
		lineDisc += l.amount - e.remaining[i]
		ql.ID, ql.Quantity, ql.TaxInclusive = cl.ID, cl.Quantity, cl.TaxInclusive
		ql.Amount = money.FromMinor(l.amount, cur)
		ql.Discounts = lineDiscounts[from:pos[i]:pos[i]]
		from = pos[i]
		ql.Discount, ql.Final = money.FromMinor(l.amount-e.remaining[i], cur), money.FromMinor(e.remaining[i], cur)
	}
	shipDisc := e.ship - e.shipLeft
	total := subtotal - lineDisc + e.ship - shipDisc

	q.Subtotal, q.LineDiscount = money.FromMinor(subtotal, cur), money.FromMinor(lineDisc, cur)
	q.Shipping, q.ShippingDiscount = money.FromMinor(e.ship, cur), money.FromMinor(shipDisc, cur)
	q.Discount, q.Total = money.FromMinor(lineDisc+shipDisc, cur), money.FromMinor(total, cur)
	return q
}

// fund splits the allocation al (part minor units of line i, or of the
// shipping fee when i < 0) among the offer's funders, into buf from at; it
// sets al.Funding and returns where the next parts go.
func (e *engine) fund(buf []FundingPart, at int, o *poffer, al *Allocation, part int64, i int) int {
	if o.parties == nil {
		fp := &buf[at]
		fp.Party, fp.Amount = e.party(o.party, i), al.Amount
		al.Funding = buf[at : at+1 : at+1]
		return at + 1
	}
	var small [8]int64
	start := at
	for x, v := range fundingSplit(small[:], part, o.weights) {
		fp := &buf[at]
		at++
		fp.Party, fp.Amount = e.party(o.parties[x], i), money.FromMinor(v, e.cur)
	}
	al.Funding = buf[start:at:at]
	return at
}

// party resolves "merchant" to the merchant of line i (of the shipping fee
// when i < 0); an unknown merchant stays "merchant". Each merchant's name
// is made once per engine.
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
	for _, c := range e.merchants {
		if c.merchant == m {
			return c.party
		}
	}
	if e.merchants == nil {
		e.merchants = make([]merchantParty, 0, 4)
	}
	party := coupon.PartyMerchant + ":" + m
	e.merchants = append(e.merchants, merchantParty{m, party})
	return party
}

// appendLimits appends the limits set in l, in their declared order.
func appendLimits(dst []Limit, l uint8) []Limit {
	if l&limEligible != 0 {
		dst = append(dst, LimitEligible)
	}
	if l&limCap != 0 {
		dst = append(dst, LimitCap)
	}
	if l&limBudget != 0 {
		dst = append(dst, LimitBudget)
	}
	return dst
}

// rejection fills r with why offer oi did not apply. The details are
// built by concatenation rather than fmt: %q is strconv.Quote.
func (e *engine) rejection(r *Rejection, oi int) {
	o, out := &e.offers[oi], &e.out[oi]
	r.OfferID, r.Source, r.CouponID, r.Reason = o.id, SourcePromotion, o.couponID, out.reason
	if o.coupon {
		r.Source = SourceCoupon
	}
	if out.by >= 0 {
		r.By = e.offers[out.by].id
	}
	amt := func(v int64) string { return money.FromMinor(v, e.cur).String() }
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	switch out.reason {
	case ReasonCurrencyMismatch:
		what := "benefit"
		if out.note == noteBudgetCurrency {
			what = "budget"
		}
		r.Detail = what + " in " + o.noteCurIn.Code() + ", cart in " + e.cur.Code()
	case ReasonNotADiscount:
		r.Detail = string(o.kind) + " is a tender, not a price discount"
	case ReasonDuplicateCoupon:
		r.Detail = "coupon " + strconv.Quote(o.couponID) + " is already used by offer " + strconv.Quote(r.By)
	case ReasonOutOfScope:
		r.Detail = "no line in scope"
		if out.note == noteGetScope {
			r.Detail = "no line in the get scope"
		}
	case ReasonNotChosen:
		r.Detail = "the best combination saves as much or more without it"
	case ReasonExclusiveConflict:
		if o.exclusive {
			r.Detail = "exclusive, and offer " + strconv.Quote(r.By) + " applies"
		} else {
			r.Detail = "offer " + strconv.Quote(r.By) + " is exclusive"
		}
	case ReasonGroupTaken:
		r.Detail = "group " + strconv.Quote(o.group) + " is taken by offer " + strconv.Quote(r.By)
	case ReasonBudgetExhausted:
		r.Detail = "no budget left"
	case ReasonBelowMinSpend:
		r.Detail = "eligible " + amt(out.have) + " is below the minimum spend " + amt(out.need)
	case ReasonNoTierReached:
		if out.note == noteQuantity {
			r.Detail = itoa(out.have) + " eligible units are below the lowest tier of " + itoa(out.need)
		} else {
			r.Detail = "eligible " + amt(out.have) + " is below the lowest tier " + amt(out.need)
		}
	case ReasonNotEnoughUnits:
		r.Detail = itoa(out.have) + " units in scope do not make a full set of buy " + itoa(o.buy) + " get " + itoa(o.get)
	case ReasonNothingToDiscount:
		if out.note == noteNoShipping {
			r.Detail = "no shipping fee left to discount"
		} else {
			r.Detail = "the discount rounds to zero or earlier discounts left nothing"
		}
	}
}
