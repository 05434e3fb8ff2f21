package rewardkit_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit"
	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// A host wires rewardkit over the embedded default store, grants points
// through the ledger and lets a member claim a limited coupon.
func Example() {
	ctx := context.Background()
	points := money.MustCurrency("POINTS", 0)
	assets, err := money.NewRegistry(points)
	if err != nil {
		log.Fatal(err)
	}
	clock := storage.NewFakeClock(time.Date(2026, 11, 11, 9, 0, 0, 0, time.UTC))
	kit, err := rewardkit.New(rewardkit.Config{Store: memory.MustNew(), Clock: clock, Assets: assets})
	if err != nil {
		log.Fatal(err)
	}
	const shop storage.TenantID = "acme"

	// Points are issued from the world account into the member's account.
	_, err = kit.Ledger.Transfer(ctx, shop, ledger.TransferRequest{
		Key:      "signup-bonus-42",
		Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:42:points", Amount: money.FromMinor(100, points)}},
	})
	if err != nil {
		log.Fatal(err)
	}
	bal, err := kit.Ledger.Balance(ctx, shop, "member:42:points", points)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("member 42 has", bal.Available)

	// A 20%-off coupon (at most 50.00 off), 2 in stock, one per user.
	_, err = kit.Coupons.CreateTemplate(ctx, coupon.Template{
		Tenant: shop, ID: "DOUBLE11",
		Benefit: coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD,
			Percent: decimal.NewFromInt(20), Cap: money.MustParse("50", money.USD)},
		Validity: coupon.Validity{Days: 7, TimeZone: "Asia/Shanghai"},
		Limits:   coupon.Limits{Stock: 2, PerUser: 1},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, user := range []string{"42", "42", "7", "8"} {
		c, err := kit.Coupons.Claim(ctx, coupon.ClaimRequest{Tenant: shop, TemplateID: "DOUBLE11", UserID: user})
		if err != nil {
			fmt.Println("user", user, "claim refused:", err)
			continue
		}
		fmt.Println("user", user, "holds a coupon in state", c.State)
	}
	// Output:
	// member 42 has 100 POINTS
	// user 42 holds a coupon in state ACTIVATED
	// user 42 claim refused: coupon: per-user limit reached: user 42, template DOUBLE11 (1 per user)
	// user 7 holds a coupon in state ACTIVATED
	// user 8 claim refused: coupon: out of stock: template DOUBLE11 (stock 2)
}
