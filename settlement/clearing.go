package settlement

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/money"
)

// Share is one party's part of the clearing split, such as platform 0.10,
// merchant 0.85, channel 0.05.
type Share struct {
	// Party is "platform", "merchant" (resolved to "merchant:<the line's
	// merchant>"), "channel" (resolved to "channel:<the order's
	// channel>"), or any fixed party name such as "agent:7".
	Party string          `json:"party"`
	Ratio decimal.Decimal `json:"ratio"`
}

// Party names with a meaning of their own in a split.
const (
	PartyPlatform = "platform"
	PartyMerchant = "merchant"
	PartyChannel  = "channel"
)

// ValidateSplit reports ErrInvalidConfig unless the split names distinct,
// non-empty parties with non-negative ratios that sum to exactly 1.
func ValidateSplit(split []Share) error {
	if len(split) == 0 {
		return fmt.Errorf("%w: empty split", ErrInvalidConfig)
	}
	sum := decimal.Zero
	seen := map[string]bool{}
	for _, s := range split {
		if s.Party == "" {
			return fmt.Errorf("%w: split share without a party", ErrInvalidConfig)
		}
		if seen[s.Party] {
			return fmt.Errorf("%w: split names %q twice", ErrInvalidConfig, s.Party)
		}
		seen[s.Party] = true
		if s.Ratio.IsNegative() {
			return fmt.Errorf("%w: split ratio of %q is negative", ErrInvalidConfig, s.Party)
		}
		if s.Ratio.Exponent() < -18 {
			return fmt.Errorf("%w: split ratio of %q has more than 18 decimals", ErrInvalidConfig, s.Party)
		}
		sum = sum.Add(s.Ratio)
	}
	if !sum.Equal(one) {
		return fmt.Errorf("%w: split ratios sum to %s, want exactly 1", ErrInvalidConfig, sum)
	}
	return nil
}

// PayableAccount is the ledger account where clearing credits a party:
// "<party>:payable".
func PayableAccount(party string) string { return party + ":payable" }

// resolveParty names the party of a split share for one line.
func resolveParty(party, merchant, channel string) (string, error) {
	if err := checkParty(party, merchant, channel); err != nil {
		return "", err
	}
	switch party {
	case PartyMerchant:
		return PartyMerchant + ":" + merchant, nil
	case PartyChannel:
		return PartyChannel + ":" + channel, nil
	}
	return party, nil
}

// checkParty reports whether resolveParty can name the party, without
// building the name.
func checkParty(party, merchant, channel string) error {
	switch {
	case party == PartyMerchant && merchant == "":
		return fmt.Errorf("%w: the split names %q but a line has no merchant", ErrInvalidRequest, party)
	case party == PartyChannel && channel == "":
		return fmt.Errorf("%w: the split names %q but the order has no channel", ErrInvalidRequest, party)
	}
	return nil
}

// splitWeights turns ratios into integer weights (the ratios shifted by
// their largest number of decimals), for money.AllocateMinor.
func splitWeights(split []Share) []int64 {
	exp := int32(0)
	for _, s := range split {
		if e := -s.Ratio.Exponent(); e > exp {
			exp = e
		}
	}
	w := make([]int64, len(split))
	for i, s := range split {
		w[i] = s.Ratio.Shift(exp).IntPart()
	}
	return w
}

// partyTotals accumulates signed minor amounts per party, in the order
// the parties first appear.
type partyTotals struct {
	parties []string
	amounts []int64
}

func (p *partyTotals) add(party string, v int64) {
	for i, q := range p.parties {
		if q == party {
			p.amounts[i] += v
			return
		}
	}
	p.parties = append(p.parties, party)
	p.amounts = append(p.amounts, v)
}

// sub adds minus each of q's amounts.
func (p *partyTotals) sub(q *partyTotals) {
	for i, party := range q.parties {
		p.add(party, -q.amounts[i])
	}
}

// list returns the non-zero totals as amounts of currency c.
func (p *partyTotals) list(c money.Currency) []PartyAmount {
	var out []PartyAmount
	for i, party := range p.parties {
		if p.amounts[i] != 0 {
			out = append(out, PartyAmount{Party: party, Amount: money.FromMinor(p.amounts[i], c)})
		}
	}
	return out
}

// unitNets allocates a line's net over its units: equal weights by largest
// remainder, the extra minor units to the first units. Refunds take units
// in index order, so refunding all units in any steps returns exactly the
// line's net.
func unitNets(net int64, qty int) ([]int64, error) {
	w := make([]int64, qty)
	for i := range w {
		w[i] = 1
	}
	return money.AllocateMinor(net, w)
}

// lineCalc holds one line's numbers in minor units, for refunds and
// clearing.
type lineCalc struct {
	unit    int64
	nets    []int64 // per unit
	funding partyTotals
	fundW   []int64
	fundSum int64
}

func (o *Order) calc(i int) (*lineCalc, error) {
	l := &o.Lines[i]
	c := &lineCalc{unit: minor(l.UnitPrice)}
	nets, err := unitNets(minor(l.Net), l.Quantity)
	if err != nil {
		return nil, err
	}
	c.nets = nets
	for _, f := range l.Funding {
		v := minor(f.Amount)
		c.funding.add(f.Party, v)
		c.fundSum += v
	}
	c.fundW = c.funding.amounts
	return c, nil
}

// netOf returns the net of units [from, to).
func (c *lineCalc) netOf(from, to int) int64 {
	var s int64
	for _, v := range c.nets[from:to] {
		s += v
	}
	return s
}

// target returns what the parties get for the first k units of line i:
// the gross of k units split by the order's ratios, less the part of the
// line's discount those units carry, split among its funders by what
// each funds. At k = Quantity it is the line's whole clearing, and it
// always sums to the net of the k units. Clearing pays target(Quantity) -
// target(refunded before clearing); a later refund of units [k, k') claws
// back target(k') - target(k).
func (o *Order) target(i, k int, c *lineCalc, weights []int64, out *partyTotals) error {
	l := &o.Lines[i]
	if k == 0 {
		return nil
	}
	gross := c.unit * int64(k)
	if gross > 0 {
		parts, err := money.AllocateMinor(gross, weights)
		if err != nil {
			return err
		}
		for j, s := range o.Split {
			party, err := resolveParty(s.Party, l.Merchant, o.Channel)
			if err != nil {
				return err
			}
			out.add(party, parts[j])
		}
	}
	disc := gross - c.netOf(0, k)
	if disc > 0 && c.fundSum > 0 {
		parts, err := money.AllocateMinor(disc, c.fundW)
		if err != nil {
			return err
		}
		for j, party := range c.funding.parties {
			out.add(party, -parts[j])
		}
	}
	return nil
}

// rangeShares returns what the parties get for units [from, to) of line
// i: target(to) - target(from).
func (o *Order) rangeShares(i, from, to int, c *lineCalc, weights []int64, out *partyTotals) error {
	var hi, lo partyTotals
	if err := o.target(i, to, c, weights, &hi); err != nil {
		return err
	}
	if err := o.target(i, from, c, weights, &lo); err != nil {
		return err
	}
	for j, p := range hi.parties {
		out.add(p, hi.amounts[j])
	}
	for j, p := range lo.parties {
		out.add(p, -lo.amounts[j])
	}
	return nil
}

// checkSplitParties resolves every share for every line up front, so
// that clearing cannot fail later on a missing merchant or channel.
func (o *Order) checkSplitParties() error {
	for _, l := range o.Lines {
		for _, s := range o.Split {
			if err := checkParty(s.Party, l.Merchant, o.Channel); err != nil {
				return fmt.Errorf("line %q: %w", l.ID, err)
			}
		}
	}
	return nil
}

var one = decimal.NewFromInt(1)
