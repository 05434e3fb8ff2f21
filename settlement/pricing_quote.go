package settlement

import (
	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
)

// Quote is the result of Price: the priced cart with every discount
// allocated to lines, who funds each part, and why each other offer did not
// apply. Its amounts obey, exactly:
//
//	Discount = LineDiscount + ShippingDiscount
//	LineDiscount = sum of Lines[i].Discount = sum of the line Allocations
//	Total = Subtotal - LineDiscount + Shipping - ShippingDiscount
type Quote struct {
	Currency         money.Currency
	Subtotal         money.Amount // sum of the line amounts before discounts
	LineDiscount     money.Amount
	Shipping         money.Amount // the fee before discounts
	ShippingDiscount money.Amount
	Discount         money.Amount
	Total            money.Amount // what the customer pays
	Lines            []QuoteLine  // in cart order
	// Discounts are the offers that applied, in the order they applied.
	Discounts []Discount
	// Rejected are the offers that did not apply, in priority order.
	Rejected []Rejection
	// Versions records the snapshot: every offer given, in input order.
	Versions []OfferVersion
	// Search says how the coupons were chosen (Options.BestCombination),
	// and Tried how many combinations were priced to choose them.
	Search Search
	Tried  int
}

// QuoteLine is one cart line after discounts.
type QuoteLine struct {
	ID           string
	Quantity     int
	Amount       money.Amount // unit price * quantity
	Discount     money.Amount // 0 <= Discount <= Amount
	Final        money.Amount // Amount - Discount
	TaxInclusive bool
	// Discounts are the parts of each discount on this line, in the order
	// they applied.
	Discounts []LineDiscount
}

// LineDiscount is the part of one discount on one line.
type LineDiscount struct {
	OfferID string
	Amount  money.Amount
}

// Discount is an offer that applied.
type Discount struct {
	OfferID    string
	Source     Source
	CouponID   string
	TemplateID string
	Kind       coupon.Kind
	// Wanted is what the benefit asked for before it was cut to the
	// eligible amount, the cap and the budget; Amount is what it gave.
	// Limits name the cuts that took something off, if any.
	Wanted money.Amount
	Amount money.Amount
	Limits []Limit
	// Allocations are the parts of Amount on each line (LineID empty: the
	// shipping fee), in cart order; they sum to Amount.
	Allocations []Allocation
}

// Allocation is the part of a discount on one line, or on the shipping fee
// when LineID is empty, with who funds it.
type Allocation struct {
	LineID string
	Amount money.Amount
	// Funding splits Amount among the funders (they sum to Amount), in
	// the order of the offer's Funding, "merchant" resolved to
	// "merchant:<the line's merchant>".
	Funding []FundingPart
}

// FundingPart is what one party funds.
type FundingPart struct {
	Party  string
	Amount money.Amount
}

// ByParty sums the discount's funding over its allocations, per party, in
// the order the parties first appear.
func (d Discount) ByParty() []FundingPart {
	var out []FundingPart
	for _, a := range d.Allocations {
		for _, f := range a.Funding {
			found := false
			for i := range out {
				if out[i].Party == f.Party {
					out[i].Amount, _ = out[i].Amount.Add(f.Amount) // one currency
					found = true
					break
				}
			}
			if !found {
				out = append(out, f)
			}
		}
	}
	return out
}

// Rejection explains an offer that did not apply.
type Rejection struct {
	OfferID  string
	Source   Source
	CouponID string
	Reason   Reason
	// By is the offer that took the group or is exclusive
	// (ReasonGroupTaken, ReasonExclusiveConflict) or already used the
	// coupon (ReasonDuplicateCoupon).
	By     string
	Detail string // for people; branch on Reason
}

// OfferVersion is an offer's ID and snapshot version.
type OfferVersion struct {
	OfferID string
	Version int64
}

// Reason says why an offer did not apply.
type Reason string

// The reasons an offer does not apply.
const (
	ReasonCurrencyMismatch  Reason = "currency_mismatch"   // benefit or budget in another currency than the cart
	ReasonNotADiscount      Reason = "not_a_discount"      // a gift card: a tender, not a price discount
	ReasonDuplicateCoupon   Reason = "duplicate_coupon"    // the coupon is already used by an earlier offer
	ReasonOutOfScope        Reason = "out_of_scope"        // no line in scope (buy X get Y: in either scope)
	ReasonNotChosen         Reason = "not_chosen"          // the best combination leaves it out
	ReasonExclusiveConflict Reason = "exclusive_conflict"  // an exclusive offer applies, or this one is exclusive and another applies
	ReasonGroupTaken        Reason = "group_taken"         // another offer of its group applies
	ReasonBudgetExhausted   Reason = "budget_exhausted"    // BudgetLeft is zero or less
	ReasonBelowMinSpend     Reason = "below_min_spend"     // the eligible amount is below MinSpend
	ReasonNoTierReached     Reason = "no_tier_reached"     // the eligible spend or quantity is below every tier
	ReasonNotEnoughUnits    Reason = "not_enough_units"    // buy X get Y: not one full set in the cart
	ReasonNothingToDiscount Reason = "nothing_to_discount" // rounds to zero, or earlier discounts left nothing (or no shipping fee)
)

// Limit names a cut that took something off a discount.
type Limit string

// The limits on a discount.
const (
	LimitEligible Limit = "eligible" // the eligible amount, or what earlier discounts left of it
	LimitCap      Limit = "cap"      // Benefit.Cap
	LimitBudget   Limit = "budget"   // Offer.BudgetLeft
)

// Search says how Price chose the coupons.
type Search string

// The searches.
const (
	SearchNone   Search = ""       // the offers as given
	SearchExact  Search = "exact"  // every subset of the candidates
	SearchGreedy Search = "greedy" // greedy, beyond Options.ExactLimit
)
