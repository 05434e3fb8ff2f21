package settlement_test

import (
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

// Test helpers: amounts are written in cents.

// tb is what the helpers need of *testing.T, *testing.B and *rapid.T.
type tb interface {
	require.TestingT
	Helper()
	Fatalf(format string, args ...any)
}

func usd(cents int64) money.Amount { return money.FromMinor(cents, money.USD) }

func pct(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func line(id, sku, category, merchant string, unitCents int64, qty int) settlement.Line {
	return settlement.Line{ID: id, SKU: sku, Category: category, Merchant: merchant, UnitPrice: usd(unitCents), Quantity: qty}
}

func cartOf(lines ...settlement.Line) settlement.Cart {
	return settlement.Cart{Currency: money.USD, Lines: lines}
}

func promo(id string, b coupon.Benefit) settlement.Offer {
	if b.Currency.IsZero() {
		b.Currency = money.USD
	}
	return settlement.Offer{ID: id, Source: settlement.SourcePromotion, Benefit: b}
}

func coup(id string, b coupon.Benefit) settlement.Offer {
	o := promo(id, b)
	o.Source, o.CouponID = settlement.SourceCoupon, "cp-"+id
	return o
}

func priceOK(t tb, cart settlement.Cart, offers []settlement.Offer, opts settlement.Options) *settlement.Quote {
	t.Helper()
	q, err := settlement.Price(cart, offers, opts)
	require.NoError(t, err)
	checkQuote(t, cart, q)
	return q
}

func minor(t tb, a money.Amount) int64 {
	t.Helper()
	v, err := a.Minor()
	require.NoError(t, err)
	return v
}

// checkQuote asserts the invariants every quote must hold, exactly.
func checkQuote(t tb, cart settlement.Cart, q *settlement.Quote) {
	t.Helper()
	require.Len(t, q.Lines, len(cart.Lines))
	var subtotal, lineDisc int64
	perOfferLine := map[string]int64{}
	for i, l := range q.Lines {
		amount, disc, final := minor(t, l.Amount), minor(t, l.Discount), minor(t, l.Final)
		require.Equal(t, cart.Lines[i].ID, l.ID)
		require.Equal(t, minor(t, cart.Lines[i].UnitPrice)*int64(cart.Lines[i].Quantity), amount, "line amount")
		require.GreaterOrEqual(t, disc, int64(0), "line %s discount", l.ID)
		require.LessOrEqual(t, disc, amount, "line %s discount above its amount", l.ID)
		require.Equal(t, amount-disc, final)
		var sum int64
		for _, d := range l.Discounts {
			v := minor(t, d.Amount)
			require.Positive(t, v)
			sum += v
			perOfferLine[d.OfferID+"/"+l.ID] += v
		}
		require.Equal(t, disc, sum, "line %s: parts", l.ID)
		subtotal += amount
		lineDisc += disc
	}
	var total, shipDisc int64
	for _, d := range q.Discounts {
		amount := minor(t, d.Amount)
		require.Positive(t, amount)
		require.LessOrEqual(t, amount, minor(t, d.Wanted), "%s gave more than it wanted", d.OfferID)
		if amount < minor(t, d.Wanted) {
			require.NotEmpty(t, d.Limits, "%s was cut without a limit", d.OfferID)
		}
		var sum int64
		for _, a := range d.Allocations {
			v := minor(t, a.Amount)
			sum += v
			if a.LineID == "" {
				shipDisc += v
			} else {
				require.Equal(t, perOfferLine[d.OfferID+"/"+a.LineID], v, "%s on %s", d.OfferID, a.LineID)
			}
			var funded int64
			for _, f := range a.Funding {
				fv := minor(t, f.Amount)
				require.GreaterOrEqual(t, fv, int64(0))
				funded += fv
			}
			require.Equal(t, v, funded, "%s on %q: funders", d.OfferID, a.LineID)
		}
		require.Equal(t, amount, sum, "%s: allocations", d.OfferID)
		var byParty int64
		for _, f := range d.ByParty() {
			byParty += minor(t, f.Amount)
		}
		require.Equal(t, amount, byParty)
		total += amount
	}
	ship := minor(t, q.Shipping)
	require.Equal(t, subtotal, minor(t, q.Subtotal))
	require.Equal(t, lineDisc, minor(t, q.LineDiscount))
	require.Equal(t, shipDisc, minor(t, q.ShippingDiscount))
	require.LessOrEqual(t, shipDisc, ship)
	require.Equal(t, total, minor(t, q.Discount))
	require.Equal(t, lineDisc+shipDisc, total)
	require.Equal(t, subtotal-lineDisc+ship-shipDisc, minor(t, q.Total))
}

// applied returns the discount of offer id in cents, or -1 when it did not apply.
func applied(q *settlement.Quote, id string) int64 {
	for _, d := range q.Discounts {
		if d.OfferID == id {
			v, _ := d.Amount.Minor()
			return v
		}
	}
	return -1
}

func discountOf(t tb, q *settlement.Quote, id string) settlement.Discount {
	t.Helper()
	for _, d := range q.Discounts {
		if d.OfferID == id {
			return d
		}
	}
	t.Fatalf("offer %s did not apply; rejected: %+v", id, q.Rejected)
	return settlement.Discount{}
}

func rejection(t tb, q *settlement.Quote, id string) settlement.Rejection {
	t.Helper()
	for _, r := range q.Rejected {
		if r.OfferID == id {
			return r
		}
	}
	t.Fatalf("offer %s was not rejected", id)
	return settlement.Rejection{}
}

// partsOf returns the offer's allocation per line ID in cents ("" is shipping).
func partsOf(t tb, q *settlement.Quote, id string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, a := range discountOf(t, q, id).Allocations {
		out[a.LineID] = minor(t, a.Amount)
	}
	return out
}
