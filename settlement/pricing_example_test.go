package settlement_test

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

func ExamplePrice() {
	usd := func(s string) money.Amount { return money.MustParse(s, money.USD) }
	cart := settlement.Cart{
		Currency: money.USD,
		Lines: []settlement.Line{
			{ID: "L1", SKU: "tee", Category: "apparel", Merchant: "acme", UnitPrice: usd("19.99"), Quantity: 3},
			{ID: "L2", SKU: "mug", Category: "home", Merchant: "potter", UnitPrice: usd("12.50"), Quantity: 2},
			{ID: "L3", SKU: "socks", Category: "apparel", Merchant: "acme", UnitPrice: usd("4.99"), Quantity: 1},
		},
		Shipping:         usd("6.00"),
		ShippingMerchant: "acme",
	}
	offers := []settlement.Offer{{
		// 10% off apparel, half paid by the merchant.
		ID: "apparel10", Source: settlement.SourcePromotion, Version: 3,
		Benefit: coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(10)},
		Scope:   coupon.Scope{Categories: []string{"apparel"}},
		Funding: coupon.Funding{
			{Party: coupon.PartyPlatform, Ratio: decimal.RequireFromString("0.5")},
			{Party: coupon.PartyMerchant, Ratio: decimal.RequireFromString("0.5")},
		},
		Stacking: coupon.Stacking{Priority: 1},
	}, {
		// Spend 80, save 10, on what the promotion left.
		ID: "save10", Source: settlement.SourceCoupon, CouponID: "cp-42", Version: 7,
		Benefit: coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD,
			Amount: usd("10.00"), MinSpend: usd("80.00")},
		Stacking: coupon.Stacking{Priority: 2, OnDiscounted: true},
	}, {
		ID: "freeship", Source: settlement.SourcePromotion, Version: 1,
		Benefit: coupon.Benefit{Kind: coupon.KindFreeShipping, Currency: money.USD, MinSpend: usd("100.00")},
	}}

	// apparel10: 10% of 59.97+4.99 = 6.496, rounded Down to 6.49, spread
	// 59.97:4.99 by largest remainder (5.9914.. and 0.4985..: 5.99 + 0.50).
	// save10 counts what is left: 53.98 + 25.00 + 4.49 = 83.47 >= 80, and
	// spreads 10.00 as 6.467.., 2.995.., 0.537.. -> 6.47, 2.99, 0.54.
	// freeship counts the original 89.96, below its 100.00.
	q, err := settlement.Price(cart, offers, settlement.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range q.Lines {
		fmt.Printf("%s %s - %s = %s\n", l.ID, l.Amount, l.Discount, l.Final)
		for _, d := range l.Discounts {
			fmt.Printf("  %s %s\n", d.OfferID, d.Amount)
		}
	}
	for _, d := range q.Discounts {
		fmt.Printf("%s: %s (wanted %s)\n", d.OfferID, d.Amount, d.Wanted)
		for _, f := range d.ByParty() {
			fmt.Printf("  funded by %s: %s\n", f.Party, f.Amount)
		}
	}
	for _, r := range q.Rejected {
		fmt.Printf("%s rejected: %s (%s)\n", r.OfferID, r.Reason, r.Detail)
	}
	fmt.Println("subtotal", q.Subtotal, "discount", q.Discount, "shipping", q.Shipping, "total", q.Total)
	// Output:
	// L1 59.97 USD - 12.46 USD = 47.51 USD
	//   apparel10 5.99 USD
	//   save10 6.47 USD
	// L2 25.00 USD - 2.99 USD = 22.01 USD
	//   save10 2.99 USD
	// L3 4.99 USD - 1.04 USD = 3.95 USD
	//   apparel10 0.50 USD
	//   save10 0.54 USD
	// apparel10: 6.49 USD (wanted 6.49 USD)
	//   funded by platform: 3.25 USD
	//   funded by merchant:acme: 3.24 USD
	// save10: 10.00 USD (wanted 10.00 USD)
	//   funded by platform: 10.00 USD
	// freeship rejected: below_min_spend (eligible 89.96 USD is below the minimum spend 100.00 USD)
	// subtotal 89.96 USD discount 16.49 USD shipping 6.00 USD total 79.47 USD
}

func ExamplePrice_bestCombination() {
	usd := func(s string) money.Amount { return money.MustParse(s, money.USD) }
	cart := settlement.Cart{
		Currency: money.USD,
		Lines: []settlement.Line{
			{ID: "L1", SKU: "lamp", Category: "home", UnitPrice: usd("120.00"), Quantity: 1},
			{ID: "L2", SKU: "tea", Category: "food", UnitPrice: usd("30.00"), Quantity: 1},
		},
		Shipping: usd("8.00"),
	}
	coupons := []settlement.Offer{{
		ID: "pct15", Source: settlement.SourceCoupon, CouponID: "c1",
		Benefit:  coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(15)},
		Stacking: coupon.Stacking{Group: "store"},
	}, {
		ID: "off20", Source: settlement.SourceCoupon, CouponID: "c2",
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: usd("20.00"), MinSpend: usd("100.00")},
		Stacking: coupon.Stacking{Group: "store"},
	}, {
		ID: "ship", Source: settlement.SourceCoupon, CouponID: "c3",
		Benefit: coupon.Benefit{Kind: coupon.KindFreeShipping, Currency: money.USD},
	}, {
		ID: "half", Source: settlement.SourceCoupon, CouponID: "c4",
		Benefit: coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(50),
			MinSpend: usd("200.00")},
	}}
	// pct15 gives 22.50 and off20 20.00, but they share a group: the best is
	// pct15 + ship = 30.50.
	q, err := settlement.Price(cart, coupons, settlement.Options{BestCombination: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range q.Discounts {
		fmt.Println("use", d.OfferID, d.Amount)
	}
	for _, r := range q.Rejected {
		fmt.Println("skip", r.OfferID, r.Reason)
	}
	fmt.Println(q.Search, q.Tried, "total", q.Total)
	// Output:
	// use pct15 22.50 USD
	// use ship 8.00 USD
	// skip half below_min_spend
	// skip off20 group_taken
	// exact 12 total 127.50 USD
}

func ExampleCart_Validate() {
	cart := settlement.Cart{
		Currency: money.USD,
		Lines: []settlement.Line{
			{ID: "L1", UnitPrice: money.MustParse("5.00", money.USD), Quantity: 0},
			{ID: "L2", UnitPrice: money.MustParse("5.00", money.EUR), Quantity: 1},
		},
	}
	err := cart.Validate()
	fmt.Println(errors.Is(err, settlement.ErrInvalidCart), errors.Is(err, money.ErrCurrencyMismatch))
	fmt.Println(err)
	// Output:
	// true true
	// settlement: invalid cart: line "L1": quantity 0, want at least 1
	// settlement: currency mismatch: money: currency mismatch: line 1 ("L2"): unit price: money: currency mismatch in price: USD vs EUR
}
