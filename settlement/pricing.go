package settlement

import (
	"errors"
	"fmt"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
)

// Errors of pricing. An offer that does not apply is not an error: the
// Quote explains it with a Reason.
var (
	// ErrInvalidCart reports a cart that cannot be priced: no currency, no
	// lines, an empty or duplicate line ID, a negative or inexact price, a
	// quantity below 1, or amounts beyond int64 minor units.
	ErrInvalidCart = errors.New("settlement: invalid cart")
	// ErrCurrencyMismatch reports a price or fee in another currency than
	// the cart's. It wraps money.ErrCurrencyMismatch, and the error chain
	// holds a *money.MismatchError naming both currencies.
	ErrCurrencyMismatch = fmt.Errorf("settlement: currency mismatch: %w", money.ErrCurrencyMismatch)
	// ErrInvalidOffer reports an offer that cannot be priced: no ID, a
	// duplicate ID, an unknown Source, an invalid benefit or funding (then
	// the chain also holds coupon.ErrInvalidBenefit), an inexact budget, or
	// a percent with more than 16 decimals.
	ErrInvalidOffer = errors.New("settlement: invalid offer")
	// ErrInvalidOptions reports Options out of range.
	ErrInvalidOptions = errors.New("settlement: invalid options")
)

// PercentRounding is how a percent discount (percent off, a tier's percent,
// the get-units of buy X get Y) is rounded to minor units: Down, once, on
// the eligible amount, so a customer never gets a fraction of a minor unit
// more than the stated percent, and the funder never pays more than it
// promised. 10% of 19.99 is 1.99; 10% of 100 units at 0.99 is 9.90, not 100
// times a rounded 0.09.
const PercentRounding = money.Down

// Source says where an offer comes from.
type Source string

// The sources of offers.
const (
	// SourcePromotion is an automatic promotion: it applies to every cart
	// it fits, and the best-combination search always keeps it.
	SourcePromotion Source = "promotion"
	// SourceCoupon is a coupon the customer holds and applied (or, with
	// Options.BestCombination, one the search may choose).
	SourceCoupon Source = "coupon"
)

// Offer is one discount that may apply to a cart: an automatic promotion or
// a customer's coupon, as read from a versioned snapshot.
type Offer struct {
	ID         string // unique among the offers, not empty
	Source     Source
	CouponID   string // the customer's coupon (SourceCoupon); a coupon applies once
	TemplateID string
	Benefit    coupon.Benefit
	Scope      coupon.Scope
	Stacking   coupon.Stacking
	Funding    coupon.Funding // empty: the platform pays all
	// BudgetLeft is what the offer's budget had left when the snapshot was
	// taken; nil means no budget, zero or less an exhausted one. Pricing
	// caps the discount at it; CreateOrder re-checks the budget
	// atomically (a coupon's lock; for an automatic promotion, a bounded
	// counter of settlement's, charged only when BudgetLeft is set).
	BudgetLeft *money.Amount
	// Version of the offer in the snapshot, recorded in the Quote.
	Version int64
}

// DefaultExactLimit is the number of candidate coupons up to which the best
// combination search tries every subset, when Options.ExactLimit is 0.
const DefaultExactLimit = 12

// MaxExactLimit is the largest Options.ExactLimit (2^16 subsets).
const MaxExactLimit = 16

// Options tune Price. The zero value prices the offers as given, in
// priority order.
type Options struct {
	// BestCombination makes Price choose which coupon offers
	// (SourceCoupon) to use: the subset with the largest total discount
	// (ties: fewer coupons, then the earlier in priority order), honouring
	// groups and exclusivity. Promotions always take part. With up to
	// ExactLimit candidates every subset is priced, so the choice is
	// optimal. Beyond that a greedy search adds, one at a time, the coupon
	// that raises the discount most, until none does: it prices at most
	// n(n+1)/2+1 subsets, and its choice saves at least as much as the best
	// single coupon and as no coupon, but is not always optimal.
	BestCombination bool
	// ExactLimit is the most candidates searched exactly: 0 means
	// DefaultExactLimit; at most MaxExactLimit.
	ExactLimit int
}

// Validate reports ErrInvalidOptions when ExactLimit is outside
// 0..MaxExactLimit.
func (o Options) Validate() error {
	if o.ExactLimit < 0 || o.ExactLimit > MaxExactLimit {
		return fmt.Errorf("%w: exact limit %d outside 0..%d", ErrInvalidOptions, o.ExactLimit, MaxExactLimit)
	}
	return nil
}

// Price prices cart with offers and returns the quote. It is pure and
// deterministic: the same cart, offers and options give the same Quote.
//
// Offers apply one after another in priority order (Stacking.Priority, then
// ID). For each, Price finds the eligible lines (Scope), checks the minimum
// spend on them, computes what the benefit wants, cuts it to the eligible
// amount, the Cap and the BudgetLeft, and allocates it over the eligible
// lines in proportion to their amounts (largest remainder), never taking a
// line or the shipping fee below zero (a part a line cannot take moves to
// the other lines of the discount that still can). A discount is computed
// on the lines' original amounts, or with Stacking.OnDiscounted on what
// earlier discounts left of them; its minimum spend and tiers count the
// same amounts. An offer of a Group already taken, or meeting an Exclusive
// offer that applied (or, if it is exclusive itself, any offer that
// applied), is rejected. Percents are rounded once, on the amount they
// apply to, with PercentRounding. By kind:
//
//   - percent and amount off: ModeSpread takes the discount off the
//     eligible lines together; ModePerUnit off up to MaxQuantity units
//     (0: all), highest unit price first, an amount off each unit at most
//     the unit's price; ModeOncePerOrder off the one highest-priced unit.
//   - threshold: Amount once the eligible amount reaches MinSpend, or with
//     Repeat once per full MinSpend.
//   - tiered: the highest tier whose Min the eligible spend (minor units) or
//     units reach: its Off, or its Percent of the eligible amount.
//   - free shipping: the shipping fee, at most Cap, when the lines in scope
//     reach MinSpend.
//   - buy X get Y: for every Buy units in Scope, Get units of GetScope
//     (cheapest first; a unit counts as bought or as got, not both) are
//     Percent off, at most MaxQuantity units when set; MinSpend counts the
//     lines in Scope.
//   - gift card: not a price discount (ReasonNotADiscount).
//
// Each part is split among the funders by the Funding ratios (largest
// remainder), "merchant" resolved to the line's merchant as
// "merchant:<id>" (for the shipping fee, Cart.ShippingMerchant).
//
// An offer that does not apply is listed in Quote.Rejected with a Reason.
// Price returns an error only for bad input: ErrInvalidCart or
// ErrCurrencyMismatch for the cart (every problem, joined), ErrInvalidOffer
// for an offer, ErrInvalidOptions for opts.
func Price(cart Cart, offers []Offer, opts Options) (*Quote, error) {
	var e engine // its slices are on the heap, the engine need not be
	search, tried, err := e.price(cart, offers, opts)
	if err != nil {
		return nil, err
	}
	return e.quote(offers, search, tried), nil
}

// runEngine prices the cart as Price does and returns the engine, whose
// outcome is in minor units: Price turns it into a Quote, CreateOrder
// straight into an order.
func runEngine(cart Cart, offers []Offer, opts Options) (*engine, Search, int, error) {
	e := new(engine)
	search, tried, err := e.price(cart, offers, opts)
	if err != nil {
		return nil, "", 0, err
	}
	return e, search, tried, nil
}

// price checks the input, converts it and prices it, leaving the outcome
// in e.
func (e *engine) price(cart Cart, offers []Offer, opts Options) (Search, int, error) {
	if err := opts.Validate(); err != nil {
		return "", 0, err
	}
	if err := e.init(cart, offers); err != nil {
		return "", 0, err
	}
	if !opts.BestCombination {
		e.run(nil)
		return SearchNone, 0, nil
	}
	limit := opts.ExactLimit
	if limit == 0 {
		limit = DefaultExactLimit
	}
	search, tried := e.best(limit)
	e.explainUnchosen() // and prices the chosen combination
	return search, tried, nil
}
