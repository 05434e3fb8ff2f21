package risk_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// One IP claiming more than 10 coupons in 5 minutes freezes the account.
func ExampleNew() {
	store := memory.MustNew()
	clock := storage.NewFakeClock(time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC))
	engine, err := risk.New(risk.Config{
		Store: store.Risk(),
		Clock: clock,
		Policies: []risk.Policy{
			risk.Velocity{Name: "claims-per-ip", Kinds: []string{"coupon.claim"}, By: risk.IP,
				Limit: 10, Window: 5 * time.Minute, Outcome: risk.Freeze},
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	claim := risk.Action{Kind: "coupon.claim", IP: "203.0.113.7"}
	for i := 1; i <= 11; i++ {
		claim.UserID = fmt.Sprintf("user-%d", i)
		d, err := engine.Check(ctx, "shop-1", claim)
		if err != nil {
			panic(err)
		}
		if i >= 10 {
			fmt.Println(i, d.Outcome, d.Reasons)
		}
	}
	clock.Advance(5 * time.Minute) // the next window
	d, _ := engine.Check(ctx, "shop-1", claim)
	fmt.Println("later:", d.Outcome)
	// Output:
	// 10 allow []
	// 11 freeze [claims-per-ip: freeze: more than 10 coupon.claim per ip in 5m0s]
	// later: allow
}

// A phone or device on the deny list may not receive coupons.
func ExampleEngine_Deny() {
	store := memory.MustNew()
	engine, err := risk.New(risk.Config{
		Store: store.Risk(),
		Policies: []risk.Policy{
			risk.DenyList{Name: "denied-phone-or-device", Kinds: []string{"coupon.issue"},
				Lists: []risk.Subject{risk.Phone, risk.Device}, Outcome: risk.Reject},
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	err = engine.Deny(ctx, "shop-1", risk.Entry{List: risk.Device, Value: "emu-4411", Reason: "emulator farm"})
	if err != nil {
		panic(err)
	}
	d, _ := engine.Check(ctx, "shop-1", risk.Action{Kind: "coupon.issue", UserID: "u1", DeviceID: "emu-4411"})
	fmt.Println(d.Outcome, d.Refused(), d.Reasons[0].Detail)
	d, _ = engine.Check(ctx, "shop-1", risk.Action{Kind: "coupon.issue", UserID: "u2", DeviceID: "pixel-8"})
	fmt.Println(d.Outcome)
	// Output:
	// reject true device is on the deny list (emulator farm)
	// allow
}

// Redemptions at or above a threshold, and bursts of redemptions at one
// merchant (cash-out), are held for review: the host delays their
// settlement.
func ExampleThreshold() {
	store := memory.MustNew()
	clock := storage.NewFakeClock(time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC))
	engine, err := risk.New(risk.Config{
		Store: store.Risk(),
		Clock: clock,
		Policies: []risk.Policy{
			risk.Threshold{Name: "high-value", Kinds: []string{"coupon.redeem"},
				Min: []money.Amount{money.MustParse("1000.00", money.CNY)}, Outcome: risk.Review},
			risk.Velocity{Name: "cash-out", Kinds: []string{"coupon.redeem"}, By: risk.Merchant,
				Limit: 2, Window: time.Minute, Outcome: risk.Review},
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, amount := range []string{"150.00", "1200.00", "80.00"} {
		d, _ := engine.Check(ctx, "shop-1", risk.Action{Kind: "coupon.redeem", MerchantID: "10086",
			Amount: money.MustParse(amount, money.CNY)})
		fmt.Println(amount, d.Outcome, d.Reasons)
	}
	// Output:
	// 150.00 allow []
	// 1200.00 review [high-value: review: amount 1200.00 CNY is at least 1000.00 CNY]
	// 80.00 review [cash-out: review: more than 2 coupon.redeem per merchant in 1m0s]
}

// Assess answers "would this be allowed?" without counting the action.
func ExampleEngine_Assess() {
	store := memory.MustNew()
	engine, err := risk.New(risk.Config{
		Store: store.Risk(),
		Policies: []risk.Policy{
			risk.Velocity{Name: "redeems-per-user", By: risk.User, Limit: 1, Window: time.Hour, Outcome: risk.Reject},
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	a := risk.Action{Kind: "points.redeem", UserID: "u1"}
	before, _ := engine.Assess(ctx, "shop-1", a)
	_, _ = engine.Check(ctx, "shop-1", a)
	after, _ := engine.Assess(ctx, "shop-1", a)
	fmt.Println(before.Outcome, after.Outcome)
	// Output: allow reject
}

// A periodic sweep deletes ended windows and expired deny-list entries.
func ExampleEngine_Prune() {
	store := memory.MustNew()
	now := time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)
	engine, err := risk.New(risk.Config{
		Store: store.Risk(),
		Clock: storage.NewFakeClock(now),
		Policies: []risk.Policy{
			risk.Velocity{Name: "per-ip", By: risk.IP, Limit: 5, Window: time.Minute, Outcome: risk.Reject},
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_, _ = engine.Check(ctx, "shop-1", risk.Action{Kind: "coupon.claim", IP: "198.51.100.1"})
	_ = engine.Deny(ctx, "shop-1", risk.Entry{List: risk.IP, Value: "198.51.100.2", ExpiresAt: now.Add(time.Minute)})
	n, _ := engine.Prune(ctx, now.Add(time.Hour))
	fmt.Println("pruned", n)
	// Output: pruned 2
}
