package reward_test

import (
	"context"
	"fmt"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
)

// Points granted without an order count toward the tier; a free
// redemption spends some; reversing the grant takes back what is left
// and reports the rest as a shortfall.
func ExampleLoyalty_Grant() {
	ctx := context.Background()
	mem, led, _ := exampleLedger()
	program, err := reward.NewLoyalty(reward.LoyaltyConfig{
		Store: mem.Loyalty(), Tx: mem, Ledger: led, Points: pts, Currency: money.USD,
		Tiers: []reward.TierRule{{Name: "member"}, {Name: "gold", Threshold: 1000}},
	})
	if err != nil {
		panic(err)
	}
	if _, err := program.Register(ctx, "shop", reward.Registration{ID: "ann"}); err != nil {
		panic(err)
	}
	g, err := program.Grant(ctx, "shop", reward.PointsGrant{Member: "ann", Points: money.FromMinor(1200, pts), Key: "apology-7", Reason: "late delivery"})
	if err != nil {
		panic(err)
	}
	fmt.Println("granted", g.Points, "tier", g.Tier)
	r, err := program.RedeemPoints(ctx, "shop", reward.PointsRedemption{Member: "ann", Points: money.FromMinor(500, pts), Key: "pay-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println("redeemed", r.Points)
	rev, err := program.Reverse(ctx, "shop", "apology-7", "granted twice")
	if err != nil {
		panic(err)
	}
	fmt.Println("reversed", rev.Reversed, "shortfall", rev.Shortfall, "tier", rev.Tier)
	// Output:
	// granted 1200 POINTS tier gold
	// redeemed 500 POINTS
	// reversed 700 POINTS shortfall 500 POINTS tier member
}
