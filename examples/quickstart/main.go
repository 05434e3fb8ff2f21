package main

import (
	"context"
	"fmt"
	"log"
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit"
	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

const shop storage.TenantID = "acme"

func usd(s string) money.Amount { return money.MustParse(s, money.USD) }

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	points := money.MustCurrency("POINTS", 0)
	assets, err := money.NewRegistry(points)
	if err != nil {
		return err
	}
	clock := storage.NewFakeClock(time.Date(2026, 11, 11, 9, 0, 0, 0, time.UTC))
	store, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		return err
	}
	kit, err := rewardkit.New(rewardkit.Config{
		Store: store, Clock: clock, Assets: assets,
		Split: []settlement.Share{ // platform 10%, merchant 85%, channel 5%
			{Party: settlement.PartyPlatform, Ratio: decimal.RequireFromString("0.10")},
			{Party: settlement.PartyMerchant, Ratio: decimal.RequireFromString("0.85")},
			{Party: settlement.PartyChannel, Ratio: decimal.RequireFromString("0.05")},
		},
	})
	if err != nil {
		return err
	}

	// 1. Points: a double-entry ledger, idempotent on the caller's key.
	for range 2 { // the same signup event delivered twice counts once
		if _, err := kit.Ledger.Transfer(ctx, shop, ledger.TransferRequest{Key: "signup:42",
			Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:42:points", Amount: money.FromMinor(100, points)}}}); err != nil {
			return err
		}
	}
	bal, err := kit.Ledger.Balance(ctx, shop, "member:42:points", points)
	if err != nil {
		return err
	}
	fmt.Println("member 42 points:", bal.Available)

	// 2. Coupons: an automatic spend-100-save-10 promotion, and a claimable
	// 20%-off coupon (at most 30.00 off) with 2 in stock, one per user.
	week := coupon.Validity{End: clock.Now().AddDate(0, 0, 7)}
	if _, err := kit.Coupons.CreateTemplate(ctx, coupon.Template{Tenant: shop, ID: "SPEND100", Auto: true, Validity: week,
		Benefit: coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, MinSpend: usd("100"), Amount: usd("10")}}); err != nil {
		return err
	}
	if _, err := kit.Coupons.CreateTemplate(ctx, coupon.Template{Tenant: shop, ID: "PCT20", Validity: week,
		Benefit:  coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(20), Cap: usd("30")},
		Stacking: coupon.Stacking{Priority: 1, OnDiscounted: true},
		Limits:   coupon.Limits{Stock: 2, PerUser: 1}}); err != nil {
		return err
	}
	var mine coupon.Coupon
	for _, user := range []string{"42", "42", "7", "8"} {
		c, err := kit.Coupons.Claim(ctx, coupon.ClaimRequest{Tenant: shop, TemplateID: "PCT20", UserID: user})
		if err != nil {
			fmt.Printf("user %s: claim refused: %v\n", user, err)
			continue
		}
		fmt.Printf("user %s: claimed coupon, %s\n", user, c.State)
		if user == "42" {
			mine = c
		}
	}

	// 3. Pricing and checkout: every discount lands on the lines exactly.
	cart := settlement.Cart{Currency: money.USD, Lines: []settlement.Line{
		{ID: "l1", SKU: "tee", Merchant: "sunny", UnitPrice: usd("19.99"), Quantity: 3},
		{ID: "l2", SKU: "mug", Merchant: "clay", UnitPrice: usd("45.00"), Quantity: 1},
	}}
	offers, err := kit.Orders.Offers(ctx, settlement.OffersRequest{Tenant: shop, UserID: "42", Cart: cart, CouponIDs: []string{mine.ID}})
	if err != nil {
		return err
	}
	order, err := kit.Orders.CreateOrder(ctx, settlement.CreateRequest{Tenant: shop, OrderID: "A-1", UserID: "42", Channel: "app", Cart: cart, Offers: offers})
	if err != nil {
		return err
	}
	for _, d := range order.Discounts {
		fmt.Printf("discount %-8s -%s\n", d.TemplateID, d.Amount.StringFixed())
	}
	for _, l := range order.Lines {
		fmt.Printf("line %s: %s - %s = %s\n", l.ID, l.Amount.StringFixed(), l.Discount.StringFixed(), l.Net.StringFixed())
	}
	fmt.Printf("subtotal %s, discount %s, total %s\n", order.Subtotal.StringFixed(), order.Discount.StringFixed(), order.Total.StringFixed())
	if order, err = kit.Orders.Pay(ctx, settlement.PayRequest{Tenant: shop, OrderID: "A-1", PaymentRef: "PSP-1", Amount: order.Total}); err != nil {
		return err
	}
	used, err := kit.Coupons.Coupon(ctx, shop, mine.ID)
	if err != nil {
		return err
	}
	fmt.Printf("order %s %s; coupon %s\n", order.ID, order.State, used.State)

	// 4. Every state change above wrote an event to the outbox in its own
	// transaction; the relay hands them to the host's broker.
	topics := map[string]int{}
	relay := kit.Relay(storage.PublisherFunc(func(_ context.Context, m storage.Message) error {
		topics[m.Topic]++
		return nil
	}))
	n, err := relay.RunOnce(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("relayed %d events:", n)
	for _, t := range slices.Sorted(maps.Keys(topics)) {
		fmt.Printf(" %s x%d", t, topics[t])
	}
	fmt.Println()
	return nil
}
