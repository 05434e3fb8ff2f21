package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// The encoding's short forms (amounts in the order's currency at its
// scale, offer IDs that end with their coupon's ID, coupons that are a
// discount's, interned categories and merchants) read back as written,
// beside the long forms, also after an update of the head alone in
// another currency.
func TestOrderEncodingShortForms(t *testing.T) {
	ctx := context.Background()
	usd := func(minor int64) money.Amount { return money.FromMinor(minor, money.USD) }
	o := settlement.Order{Tenant: "shop", ID: "o1", UserID: "u1", State: settlement.StateCreated, Currency: money.USD,
		Subtotal: usd(1000), Discount: usd(0), Total: money.New(decimal.New(1000, -3), money.USD), Refunded: money.Zero(money.JPY),
		Lines: []settlement.OrderLine{
			{ID: "l1", SKU: "tee", Category: "apparel", Merchant: "m1", UnitPrice: usd(500), Quantity: 2, Amount: usd(1000),
				Discount: usd(-7), Net: money.FromMinor(993, money.JPY), RefundedAmount: money.Amount{},
				Funding: []settlement.FundingPart{{Party: "platform", Amount: usd(7)}}},
			{ID: "l2", Category: "", Merchant: "", UnitPrice: money.New(decimal.New(5, 0), money.USD), Quantity: 1},
		},
		Discounts: []settlement.AppliedDiscount{
			{OfferID: "coupon:c1", CouponID: "c1", TemplateID: "t1", Amount: usd(5)},
			{OfferID: "promotion:p1", TemplateID: "p1", Amount: usd(2), Budgeted: true},
			{OfferID: "x", CouponID: "c2", TemplateID: "t2", Amount: usd(1)},
			{OfferID: "c3", CouponID: "c3", Funding: []settlement.FundingPart{}},
		},
		Coupons:   []string{"c1", "c9", "c2", "", "c3"},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Version:   1,
	}
	for _, encoded := range []bool{false, true} {
		s := memory.MustNew()
		ss := s.Settlement().(*memory.SettlementStore)
		if encoded {
			enc := ss.EncodeOrder(&o)
			require.NoError(t, s.InTx(ctx, func(ctx context.Context) error { return ss.InsertEncoded(ctx, &o, enc) }))
		} else {
			require.NoError(t, ss.InsertOrder(ctx, o))
		}
		got, err := ss.Order(ctx, "shop", "o1")
		require.NoError(t, err)
		require.Equal(t, o, got)

		head := o
		head.Currency, head.Total, head.Version = money.JPY, money.FromMinor(12, money.JPY), 2
		require.NoError(t, ss.UpdateOrderHead(ctx, head, 1))
		got, err = ss.Order(ctx, "shop", "o1")
		require.NoError(t, err)
		require.Equal(t, head, got, "the lists read as written in the currency they were written with")
	}
}
