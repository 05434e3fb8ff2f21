package settlement

import "math/bits"

// best chooses the coupons to use (e.selected) and returns the search done
// and how many combinations it priced. Candidates are the coupon offers
// that no static reason rules out, in priority order.
func (e *engine) best(limit int) (Search, int) {
	e.selected = make([]bool, len(e.offers))
	var cands []int
	for _, oi := range e.order {
		if o := &e.offers[oi]; o.coupon && o.static == "" {
			cands = append(cands, oi)
		}
	}
	if len(cands) <= limit {
		return SearchExact, e.exact(cands)
	}
	return SearchGreedy, e.greedy(cands)
}

// exact prices every subset of cands that honours groups and exclusivity
// and keeps the one with the largest total discount; ties go to fewer
// coupons, then to the lower mask (bit i is cands[i]).
func (e *engine) exact(cands []int) int {
	n := len(cands)
	// Each candidate's group as a bit, and the exclusive ones.
	groupBit := make([]uint32, n)
	var exclusive uint32
	for i, oi := range cands {
		o := &e.offers[oi]
		if o.exclusive {
			exclusive |= 1 << i
		}
		if o.group == "" {
			continue
		}
		groupBit[i] = 1 << i
		for j := range i {
			if e.offers[cands[j]].group == o.group {
				groupBit[i] = groupBit[j]
				break
			}
		}
	}
	sel := make([]bool, len(e.offers))
	bestMask, bestTotal, bestCount, tried := uint32(0), int64(-1), 0, 0
	for mask := uint32(0); mask < 1<<n; mask++ {
		count := bits.OnesCount32(mask)
		if count > 1 && mask&exclusive != 0 {
			continue
		}
		var used uint32
		ok := true
		for m := mask; m != 0; m &= m - 1 {
			g := groupBit[bits.TrailingZeros32(m)]
			if used&g != 0 {
				ok = false
				break
			}
			used |= g
		}
		if !ok {
			continue
		}
		for i, oi := range cands {
			sel[oi] = mask&(1<<i) != 0
		}
		total := e.run(sel)
		tried++
		if total > bestTotal || total == bestTotal && count < bestCount {
			bestMask, bestTotal, bestCount = mask, total, count
		}
	}
	for i, oi := range cands {
		e.selected[oi] = bestMask&(1<<i) != 0
	}
	return tried
}

// greedy starts from no coupon and adds, one at a time, the candidate that
// raises the total discount most (ties: the earlier in priority order),
// skipping candidates that conflict with those chosen, until none raises
// it. It prices at most n(n+1)/2+1 combinations.
func (e *engine) greedy(cands []int) int {
	sel := e.selected
	total := e.run(sel)
	tried := 1
	for {
		pick, pickTotal := -1, total
		for _, oi := range cands {
			if sel[oi] || e.conflicts(sel, oi) >= 0 {
				continue
			}
			sel[oi] = true
			t := e.run(sel)
			sel[oi] = false
			tried++
			if t > pickTotal {
				pick, pickTotal = oi, t
			}
		}
		if pick < 0 {
			return tried
		}
		sel[pick], total = true, pickTotal
	}
}

// conflicts returns a selected coupon that oi may not join (same group, or
// either exclusive), or -1.
func (e *engine) conflicts(sel []bool, oi int) int {
	o := &e.offers[oi]
	for _, c := range e.order {
		if !sel[c] || c == oi {
			continue
		}
		oc := &e.offers[c]
		if o.exclusive || oc.exclusive || o.group != "" && oc.group == o.group {
			return c
		}
	}
	return -1
}

// explainUnchosen prices the chosen coupons and gives each candidate left
// out a precise reason: the chosen coupon it conflicts with, or the reason
// it fails when added to the chosen ones; ReasonNotChosen when it would
// apply but does not pay.
func (e *engine) explainUnchosen() {
	type why struct {
		oi  int
		out outcome
	}
	var whys []why
	sel := e.selected
	for _, oi := range e.order {
		o := &e.offers[oi]
		if !o.coupon || o.static != "" || sel[oi] {
			continue
		}
		w := why{oi: oi, out: outcome{reason: ReasonNotChosen, by: -1}}
		if c := e.conflicts(sel, oi); c >= 0 {
			w.out.reason, w.out.by = ReasonGroupTaken, c
			if o.exclusive || e.offers[c].exclusive {
				w.out.reason = ReasonExclusiveConflict
			}
		} else {
			sel[oi] = true
			e.run(sel)
			sel[oi] = false
			if got := e.out[oi]; !got.applied {
				w.out = got
				w.out.parts = nil
			}
		}
		whys = append(whys, w)
	}
	e.run(sel)
	for _, w := range whys {
		parts := e.out[w.oi].parts
		e.out[w.oi] = w.out
		e.out[w.oi].parts = parts
	}
}
