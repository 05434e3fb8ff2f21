package settlement

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
)

// The engine works in int64 minor units; money.Amount appears only when the
// quote is built.

// poffer is an offer in minor units.
type poffer struct {
	kind      coupon.Kind
	coupon    bool
	couponID  string
	perUnit   bool
	maxQty    int64 // per-unit modes and buy X get Y: most units, 0 = no limit
	num, den  int64 // a percent as the fraction num/den of the amount
	amount    int64
	cap       int64 // 0: none
	minSpend  int64
	budget    int64
	hasBudget bool
	repeat    bool
	tierQty   bool
	tiers     []ptier // highest Min first
	buy, get  int64
	elig      []bool // per line: in Scope
	getElig   []bool // per line: in GetScope (buy X get Y)
	static    Reason // rejected whatever else applies
	staticBy  int    // the offer a static rejection names, or -1
	group     string
	exclusive bool
	onDisc    bool
	priority  int
	id        string
	// Funding: one party (party) or several (parties, weights).
	party     string
	parties   []string
	weights   []int64
	anyMerch  bool
	note      note           // wording of the static rejection
	noteCurIn money.Currency // the foreign currency of ReasonCurrencyMismatch
}

type ptier struct{ min, off, num, den int64 }

// outcome is what one run did with one offer.
type outcome struct {
	applied    bool
	reason     Reason
	note       note
	have, need int64
	by         int // offer named by the reason, or -1
	wanted     int64
	given      int64
	limits     uint8
	ship       int64
	parts      []int64 // per line
}

// note picks the wording of a rejection's detail.
type note uint8

const (
	noteNone note = iota
	noteBudgetCurrency
	noteGetScope
	noteQuantity
	noteZero
	noteNoShipping
)

const (
	limEligible uint8 = 1 << iota
	limCap
	limBudget
)

type engine struct {
	cart      Cart
	cur       money.Currency
	lines     []pline
	ship      int64
	offers    []poffer // input order
	order     []int    // priority order
	out       []outcome
	remaining []int64
	shipLeft  int64
	base      []int64 // scratch per line
	w         []int64
	k         []int64
	lw        []int64
	got       []int64
	unitQ     []int64 // sortUnits: unit prices in whole minor units (got's memory)
	unitR     []int64 // and the remainders (lw's memory; only allocate uses got, lw)
	idx       []int
	groups    []int  // the offers that took a group in this run
	selected  []bool // best combination: chosen coupons
	merchants []merchantParty
}

// merchantParty is "merchant" resolved for one merchant.
type merchantParty struct{ merchant, party string }

// slabPerLine is the number of int64 slices per line that are not an
// offer's.
const slabPerLine = 6

// init checks the cart and the offers and converts them to minor units.
// Its memory is a few slabs, one per type, whatever the number of lines
// and offers: Price is called per cart, and allocations were most of its
// cost.
func (e *engine) init(cart Cart, offers []Offer) error {
	e.cart, e.cur = cart, cart.Currency
	lines, ship, err := cart.convert(make([]pline, 0, len(cart.Lines)))
	if err != nil {
		return err
	}
	n, m := len(lines), len(offers)
	// Funding weights and parties of offers split among several funders,
	// and the tiers of tiered ones, each in one array for all offers.
	var shares, tiers int
	for j := range offers {
		if f := len(offers[j].Funding); f > 1 {
			shares += f
		}
		if offers[j].Benefit.Kind == coupon.KindTiered {
			tiers += len(offers[j].Benefit.Tiers)
		}
	}
	slab := make([]int64, n*(m+slabPerLine)+shares)
	ints := make([]int, 2*m+n)
	flags := make([]bool, 2*n*m)
	e.offers, e.out = make([]poffer, m), make([]outcome, m)
	var parties []string
	if shares > 0 {
		parties = make([]string, shares)
	}
	var ptiers []ptier
	if tiers > 0 {
		ptiers = make([]ptier, tiers)
	}
	cut := func(k int) []int64 {
		s := slab[:k:k]
		slab = slab[k:]
		return s
	}
	e.lines, e.ship = lines, ship
	e.order, e.groups, e.idx = ints[:m:m], ints[m:m:2*m], ints[2*m:2*m+n]
	e.remaining, e.base, e.w, e.k, e.lw, e.got = cut(n), cut(n), cut(n), cut(n), cut(n), cut(n)
	e.unitQ, e.unitR = e.got, e.lw
	for j := range offers {
		e.out[j].parts = cut(n)
		o := &e.offers[j]
		o.elig = flags[2*j*n : (2*j+1)*n : (2*j+1)*n]
		o.getElig = flags[(2*j+1)*n : (2*j+2)*n : (2*j+2)*n]
		if f := len(offers[j].Funding); f > 1 {
			o.weights, o.parties, parties = cut(f), parties[:f:f], parties[f:]
		}
		if offers[j].Benefit.Kind == coupon.KindTiered {
			t := len(offers[j].Benefit.Tiers)
			o.tiers, ptiers = ptiers[:t:t], ptiers[t:]
		}
		if err := e.convertOffer(o, &offers[j]); err != nil {
			return err
		}
		e.order[j] = j
		if dupOfferID(offers, j) {
			return fmt.Errorf("%w: duplicate offer ID %q", ErrInvalidOffer, offers[j].ID)
		}
	}
	// Priority order: insertion sort, as there are few offers; IDs are
	// distinct, so the order is total.
	for x := 1; x < m; x++ {
		a := e.order[x]
		y := x
		for ; y > 0 && e.before(a, e.order[y-1]); y-- {
			e.order[y] = e.order[y-1]
		}
		e.order[y] = a
	}
	// A coupon applies once: later offers of the same coupon are rejected.
	for x, a := range e.order {
		oa := &e.offers[a]
		if oa.couponID == "" || oa.static != "" {
			continue
		}
		for _, b := range e.order[x+1:] {
			if ob := &e.offers[b]; ob.couponID == oa.couponID && ob.static == "" {
				ob.static, ob.staticBy = ReasonDuplicateCoupon, a
			}
		}
	}
	return nil
}

// before reports whether offer a applies before offer b: lower priority
// first, then by ID.
func (e *engine) before(a, b int) bool {
	oa, ob := &e.offers[a], &e.offers[b]
	if oa.priority != ob.priority {
		return oa.priority < ob.priority
	}
	return oa.id < ob.id
}

func dupOfferID(offers []Offer, j int) bool {
	for i := range j {
		if offers[i].ID == offers[j].ID {
			return true
		}
	}
	return false
}

// convertOffer checks of and fills o.
func (e *engine) convertOffer(o *poffer, of *Offer) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: offer %q: "+format, append([]any{ErrInvalidOffer, of.ID}, args...)...)
	}
	if of.ID == "" {
		return fmt.Errorf("%w: an offer has no ID", ErrInvalidOffer)
	}
	switch of.Source {
	case SourcePromotion, SourceCoupon:
	default:
		return bad("unknown source %q", of.Source)
	}
	b := &of.Benefit
	if err := b.Validate(); err != nil {
		return fmt.Errorf("%w: offer %q: %w", ErrInvalidOffer, of.ID, err)
	}
	// Most fundings are shown valid in integers; Validate, which adds
	// decimals, decides the rest and words the error.
	weighed := fundingWeights(of.Funding, o.weights)
	if !weighed {
		if err := of.Funding.Validate(); err != nil {
			return fmt.Errorf("%w: offer %q: %w", ErrInvalidOffer, of.ID, err)
		}
	}
	o.id = of.ID
	o.kind = b.Kind
	o.coupon = of.Source == SourceCoupon
	o.couponID = of.CouponID
	o.group = of.Stacking.Group
	o.exclusive = of.Stacking.Exclusive
	o.onDisc = of.Stacking.OnDiscounted
	o.priority = of.Stacking.Priority
	o.staticBy = -1
	o.repeat = b.Repeat
	o.tierQty = b.TierBasis == coupon.TierByQuantity
	o.buy, o.get = int64(b.Buy), int64(b.Get)
	switch b.Mode {
	case coupon.ModePerUnit:
		o.perUnit, o.maxQty = true, int64(b.MaxQuantity)
	case coupon.ModeOncePerOrder:
		o.perUnit, o.maxQty = true, 1
	default:
		if b.Kind == coupon.KindBuyXGetY {
			o.maxQty = int64(b.MaxQuantity)
		}
	}
	var err error
	minor := func(a money.Amount, what string) int64 {
		if err != nil {
			return 0
		}
		v, merr := a.Minor()
		if merr != nil {
			err = bad("%s: %w", what, merr)
		}
		return v
	}
	o.amount = minor(b.Amount, "amount")
	o.cap = minor(b.Cap, "cap")
	o.minSpend = minor(b.MinSpend, "min spend")
	if b.Kind == coupon.KindPercentOff || b.Kind == coupon.KindBuyXGetY {
		if o.num, o.den, err = percentRatio(b.Percent); err != nil {
			return bad("%w", err)
		}
	}
	if b.Kind == coupon.KindTiered {
		for i, t := range b.Tiers {
			pt := ptier{min: t.Min}
			if t.Off.IsZero() {
				if pt.num, pt.den, err = percentRatio(t.Percent); err != nil {
					return bad("tier %d: %w", t.Min, err)
				}
			} else {
				pt.off = minor(t.Off, "tier off")
			}
			o.tiers[i] = pt
		}
		// Highest Min first (the minimums are distinct: Validate).
		for x := 1; x < len(o.tiers); x++ {
			t := o.tiers[x]
			y := x
			for ; y > 0 && o.tiers[y-1].min < t.min; y-- {
				o.tiers[y] = o.tiers[y-1]
			}
			o.tiers[y] = t
		}
	}
	if of.BudgetLeft != nil {
		o.hasBudget = true
		if of.BudgetLeft.Currency() != e.cur {
			o.static, o.note, o.noteCurIn = ReasonCurrencyMismatch, noteBudgetCurrency, of.BudgetLeft.Currency()
		} else if o.budget = minor(*of.BudgetLeft, "budget left"); o.budget < 0 {
			o.budget = 0
		}
	}
	if err != nil {
		return err
	}
	if err := o.setFunding(of, weighed); err != nil {
		return err
	}
	// Static rejections: the cart cannot change them.
	if b.Currency != e.cur {
		o.static, o.note, o.noteCurIn = ReasonCurrencyMismatch, noteNone, b.Currency
	}
	if o.static != "" {
		return nil
	}
	if b.Kind == coupon.KindGiftCard {
		o.static = ReasonNotADiscount
		return nil
	}
	anyIn, anyGet := false, false
	all := scopeEmpty(&of.Scope) // matches every line
	for i := range e.cart.Lines {
		l := &e.cart.Lines[i]
		o.elig[i] = all || of.Scope.Matches(l.SKU, l.Category, l.Merchant)
		anyIn = anyIn || o.elig[i]
		if b.Kind == coupon.KindBuyXGetY {
			if b.GetScope == nil {
				o.getElig[i] = o.elig[i]
			} else {
				o.getElig[i] = scopeEmpty(b.GetScope) || b.GetScope.Matches(l.SKU, l.Category, l.Merchant)
			}
			anyGet = anyGet || o.getElig[i]
		}
	}
	switch {
	case !anyIn:
		o.static = ReasonOutOfScope
	case b.Kind == coupon.KindBuyXGetY && !anyGet:
		o.static, o.note = ReasonOutOfScope, noteGetScope
	}
	return nil
}

// scopeEmpty reports whether s has no condition, so it matches every line.
func scopeEmpty(s *coupon.Scope) bool {
	return len(s.SKUs) == 0 && len(s.Categories) == 0 && len(s.Merchants) == 0 && len(s.ExcludeSKUs) == 0
}

// setFunding sets the funders; with several, their integer weights
// (already in o.weights when weighed, from fundingWeights).
func (o *poffer) setFunding(of *Offer, weighed bool) error {
	shares := of.Funding
	if len(shares) == 0 {
		o.party = coupon.PartyPlatform
		return nil
	}
	if len(shares) == 1 {
		o.party = shares[0].Party
		o.anyMerch = o.party == coupon.PartyMerchant
		return nil
	}
	if !weighed {
		exp := int32(0)
		for _, s := range shares {
			exp = min(exp, s.Ratio.Exponent())
		}
		if exp < -18 {
			return fmt.Errorf("%w: offer %q: funding ratios have more than 18 decimals", ErrInvalidOffer, of.ID)
		}
		for i, s := range shares {
			o.weights[i] = s.Ratio.Shift(-exp).IntPart() // <= 10^18: ratios are at most 1
		}
	}
	for i, s := range shares {
		o.parties[i] = s.Party
		o.anyMerch = o.anyMerch || s.Party == coupon.PartyMerchant
	}
	return nil
}

// fundingWeights reports whether f is valid by the rules of
// coupon.Funding.Validate (named, distinct parties; ratios not negative,
// summing to exactly 1), working on the ratios' coefficients as integers;
// with several parties it leaves in w each ratio as an integer at the
// smallest exponent (at least -18) of them, the weights of the split.
// False means only that this could not show it: some ratio has more than
// 18 digits or decimals, or f is invalid.
func fundingWeights(f coupon.Funding, w []int64) bool {
	exp := int32(0)
	for _, s := range f {
		exp = min(exp, s.Ratio.Exponent())
	}
	if exp < -18 {
		return false
	}
	var sum int64
	for i, s := range f {
		if s.Party == "" {
			return false
		}
		for _, t := range f[:i] {
			if t.Party == s.Party {
				return false
			}
		}
		r := s.Ratio
		d := r.Exponent() - exp
		if r.Sign() < 0 || r.NumDigits() > 18 || d > 18 {
			return false
		}
		hi, lo := bits.Mul64(uint64(r.CoefficientInt64()), pow10(d))
		if hi != 0 || lo > math.MaxInt64 {
			return false
		}
		var ok bool
		if sum, ok = addInt(sum, int64(lo)); !ok {
			return false
		}
		if len(f) > 1 {
			w[i] = int64(lo)
		}
	}
	return len(f) == 0 || uint64(sum) == pow10(-exp)
}

// pow10 returns 10^d for 0 <= d <= 19.
func pow10(d int32) uint64 {
	p := uint64(1)
	for range d {
		p *= 10
	}
	return p
}

// percentRatio returns p percent as the fraction num/den, exactly.
func percentRatio(p decimal.Decimal) (num, den int64, err error) {
	if e := p.Exponent(); e <= 0 && e >= -16 && p.NumDigits() <= 18 {
		// The coefficient is the numerator: no decimal arithmetic.
		return p.CoefficientInt64(), 100 * int64(pow10(-e)), nil
	}
	scale := int32(0)
	if e := p.Exponent(); e < 0 {
		scale = -e
	}
	if scale > 16 {
		if !p.Shift(16).IsInteger() {
			return 0, 0, fmt.Errorf("percent %s has more than 16 decimals", p)
		}
		scale = 16
	}
	den = 100
	for range scale {
		den *= 10
	}
	return p.Shift(scale).IntPart(), den, nil // p <= 100, so num <= den
}

// run prices the cart with the offers in priority order; sel, when not nil,
// says which coupon offers take part. It returns the total discount and
// leaves each offer's outcome in e.out.
func (e *engine) run(sel []bool) int64 {
	for i, l := range e.lines {
		e.remaining[i] = l.amount
	}
	e.shipLeft = e.ship
	e.groups = e.groups[:0]
	exclusive, first := -1, -1
	var total int64
	for _, oi := range e.order {
		o := &e.offers[oi]
		out := &e.out[oi]
		parts := out.parts
		clear(parts)
		*out = outcome{parts: parts, by: -1}
		switch {
		case o.static != "":
			out.reason, out.note, out.by = o.static, o.note, o.staticBy
		case sel != nil && o.coupon && !sel[oi]:
			out.reason = ReasonNotChosen
		case exclusive >= 0:
			out.reason, out.by = ReasonExclusiveConflict, exclusive
		case o.exclusive && first >= 0:
			out.reason, out.by = ReasonExclusiveConflict, first
		case o.group != "" && e.groupTaken(o.group, out):
			out.reason = ReasonGroupTaken
		case o.hasBudget && o.budget <= 0:
			out.reason = ReasonBudgetExhausted
		default:
			e.compute(o, out)
		}
		if !out.applied {
			continue
		}
		for i, p := range parts {
			e.remaining[i] -= p
		}
		e.shipLeft -= out.ship
		total += out.given
		if first < 0 {
			first = oi
		}
		if o.exclusive {
			exclusive = oi
		}
		if o.group != "" {
			e.groups = append(e.groups, oi) // within its capacity: one per offer at most
		}
	}
	return total
}

func (e *engine) groupTaken(g string, out *outcome) bool {
	for _, by := range e.groups {
		if e.offers[by].group == g {
			out.by = by
			return true
		}
	}
	return false
}

// compute works out one offer against what earlier offers left, and on
// success fills out.parts / out.ship and sets out.applied.
func (e *engine) compute(o *poffer, out *outcome) {
	base, w := e.base, e.w
	var spend, units int64
	for i, l := range e.lines {
		b := l.amount
		if o.onDisc {
			b = e.remaining[i]
		}
		base[i] = b
		w[i] = 0
		if o.elig[i] {
			spend += b
			units += l.qty
		}
	}
	if spend < o.minSpend {
		out.reason, out.have, out.need = ReasonBelowMinSpend, spend, o.minSpend
		return
	}
	var raw, sumW int64
	switch o.kind {
	case coupon.KindPercentOff, coupon.KindAmountOff:
		if o.perUnit {
			e.pickUnits(o.elig, o.maxQty, true)
			for i := range w {
				w[i] = e.portion(i)
				sumW += w[i]
			}
		} else {
			sumW = e.spread(o.elig)
		}
		switch {
		case o.kind == coupon.KindPercentOff:
			raw = mulDiv(sumW, o.num, o.den)
		case o.perUnit:
			// Amount off each unit, at most the unit's own amount.
			sumW = 0
			for i := range w {
				if e.k[i] > 0 {
					raw = addSat(raw, mulSat(o.amount, e.k[i]))
					w[i] = min(w[i], mulSat(o.amount, e.k[i]))
					sumW += w[i]
				}
			}
		default:
			raw = o.amount
		}
	case coupon.KindThreshold:
		times := int64(1)
		if o.repeat {
			times = spend / o.minSpend
		}
		raw = mulSat(o.amount, times)
		sumW = e.spread(o.elig)
	case coupon.KindTiered:
		basis := spend
		if o.tierQty {
			basis = units
		}
		var t *ptier
		for x := range o.tiers {
			if o.tiers[x].min <= basis {
				t = &o.tiers[x]
				break
			}
		}
		if t == nil {
			out.reason, out.have, out.need = ReasonNoTierReached, basis, o.tiers[len(o.tiers)-1].min
			if o.tierQty {
				out.note = noteQuantity
			}
			return
		}
		sumW = e.spread(o.elig)
		if t.off > 0 {
			raw = t.off
		} else {
			raw = mulDiv(sumW, t.num, t.den)
		}
	case coupon.KindFreeShipping:
		raw = e.ship
		if o.onDisc {
			raw = e.shipLeft
		}
		if e.ship == 0 {
			out.reason, out.note = ReasonNothingToDiscount, noteNoShipping
			return
		}
		d, lim := o.cut(raw, e.shipLeft, 0)
		if d == 0 {
			out.reason, out.note = ReasonNothingToDiscount, noteNoShipping
			return
		}
		out.applied, out.wanted, out.given, out.limits, out.ship = true, raw, d, lim, d
		return
	case coupon.KindBuyXGetY:
		free, buyUnits := e.pickFree(o)
		if free == 0 {
			out.reason, out.have, out.need = ReasonNotEnoughUnits, buyUnits, o.buy
			return
		}
		for i := range w {
			w[i] = e.portion(i)
			sumW += w[i]
		}
		raw = mulDiv(sumW, o.num, o.den)
	}
	// What earlier discounts left of the lines this discount falls on.
	var room int64
	for i, x := range w {
		if x > 0 {
			room += e.remaining[i]
		}
	}
	d, lim := raw, uint8(0)
	if d > sumW {
		d, lim = sumW, limEligible
	}
	d, lim = o.cut(d, room, lim)
	if d == 0 {
		out.reason, out.note = ReasonNothingToDiscount, noteZero
		return
	}
	e.allocate(d, out.parts)
	out.applied, out.wanted, out.given, out.limits = true, raw, d, lim
}

// cut applies the cap, the budget and the room left to d.
func (o *poffer) cut(d, room int64, lim uint8) (int64, uint8) {
	if o.cap > 0 && d > o.cap {
		d, lim = o.cap, lim|limCap
	}
	if o.hasBudget && d > o.budget {
		d, lim = o.budget, lim|limBudget
	}
	if d > room {
		d, lim = room, lim|limEligible
	}
	return d, lim
}

// spread sets the weights to the eligible lines' base amounts and returns
// their sum.
func (e *engine) spread(elig []bool) int64 {
	var s int64
	for i, in := range elig {
		if in {
			e.w[i] = e.base[i]
			s += e.base[i]
		}
	}
	return s
}

// portion is the base amount of the k[i] units taken from line i: exact when
// all of them are taken, otherwise rounded down.
func (e *engine) portion(i int) int64 {
	k, q := e.k[i], e.lines[i].qty
	switch {
	case k == 0:
		return 0
	case k == q:
		return e.base[i]
	}
	return mulDiv(e.base[i], k, q)
}

// sortUnits orders the lines in elig by their base unit price, highest
// first (desc) or cheapest first, ties by cart order, and returns them (a
// view of e.idx).
func (e *engine) sortUnits(elig []bool, desc bool) []int {
	// A line's unit price is base/qty: split it into whole minor units and
	// a remainder once, so that most comparisons are of integers.
	// Insertion sort: lines come in cart order and move only past lines
	// that sort strictly after them, so ties keep cart order.
	uq, ur := e.unitQ, e.unitR
	idx := e.idx[:0]
	for i, in := range elig {
		if !in {
			continue
		}
		q := e.lines[i].qty
		uq[i], ur[i] = e.base[i]/q, e.base[i]%q
		idx = append(idx, i)
		y := len(idx) - 1
		for ; y > 0; y-- {
			j := idx[y-1]
			c := cmp.Compare(uq[j], uq[i])
			if c == 0 && (ur[j] != 0 || ur[i] != 0) {
				c = cmpUnit(ur[j], e.lines[j].qty, ur[i], q)
			}
			if desc {
				c = -c
			}
			if c <= 0 {
				break
			}
			idx[y] = idx[y-1]
		}
		idx[y] = i
	}
	return idx
}

// pickUnits takes up to limit units (0: all) of the eligible lines, highest
// unit price first (desc) or cheapest first, into e.k, and returns how many.
func (e *engine) pickUnits(elig []bool, limit int64, desc bool) int64 {
	clear(e.k)
	var taken int64
	for _, i := range e.sortUnits(elig, desc) {
		k := e.lines[i].qty
		if limit > 0 {
			k = min(k, limit-taken)
		}
		if k <= 0 {
			break
		}
		e.k[i] = k
		taken += k
	}
	return taken
}

// pickFree finds the most free units of buy X get Y: for every Buy units of
// Scope, Get units of GetScope, cheapest first, a unit counting as bought or
// as free but not both. It fills e.k and returns the free units and the
// units in Scope.
func (e *engine) pickFree(o *poffer) (free, buyUnits int64) {
	var getUnits int64
	for i, l := range e.lines {
		if o.elig[i] {
			buyUnits += l.qty
		}
		if o.getElig[i] {
			getUnits += l.qty
		}
	}
	order := e.sortUnits(o.getElig, false)
	// Taking k cheapest get units is feasible when the units of Scope left
	// over make enough full sets: ceil(k/Get) <= (buyUnits - taken from
	// Scope) / Buy. Feasibility only falls as k grows: binary search.
	feasible := func(k int64) bool {
		var both, left int64 = 0, k
		for _, i := range order {
			if left == 0 {
				break
			}
			t := min(e.lines[i].qty, left)
			left -= t
			if o.elig[i] {
				both += t
			}
		}
		sets := (buyUnits - both) / o.buy
		return (k+o.get-1)/o.get <= sets
	}
	lo, hi := int64(0), getUnits
	if o.maxQty > 0 {
		hi = min(hi, o.maxQty)
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if feasible(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	clear(e.k)
	left := lo
	for _, i := range order {
		if left == 0 {
			break
		}
		t := min(e.lines[i].qty, left)
		e.k[i] = t
		left -= t
	}
	return lo, buyUnits
}

// allocate splits d over the lines in proportion to e.w (largest
// remainder), then moves any part that exceeds what a line has left to the
// other weighted lines, in proportion to what they have left. d must not
// exceed what the weighted lines have left.
func (e *engine) allocate(d int64, parts []int64) {
	got := e.got
	if err := money.AllocateMinorInto(got, d, e.w); err != nil { // cannot happen: 0 < d <= sum of weights
		panic(fmt.Sprintf("settlement: allocate %d: %v", d, err))
	}
	var excess int64
	for i, p := range got {
		if r := e.remaining[i]; p > r {
			excess += p - r
			p = r
		}
		parts[i] = p
	}
	if excess == 0 {
		return
	}
	for i, x := range e.w {
		e.lw[i] = 0
		if x > 0 {
			e.lw[i] = e.remaining[i] - parts[i]
		}
	}
	more := e.got
	if err := money.AllocateMinorInto(more, excess, e.lw); err != nil {
		panic(fmt.Sprintf("settlement: reallocate %d: %v", excess, err))
	}
	for i, p := range more {
		parts[i] += p
	}
}

// mulDiv returns floor(a*b/c) for a, b >= 0, c > 0 and b <= c.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// mulSat returns a*b for a, b >= 0, saturating at math.MaxInt64.
func mulSat(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// addSat returns a+b for a, b >= 0, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxInt64
}

// cmpUnit compares the unit prices a/qa and b/qb exactly.
func cmpUnit(a, qa, b, qb int64) int {
	h1, l1 := bits.Mul64(uint64(a), uint64(qb))
	h2, l2 := bits.Mul64(uint64(b), uint64(qa))
	if c := cmp.Compare(h1, h2); c != 0 {
		return c
	}
	return cmp.Compare(l1, l2)
}
