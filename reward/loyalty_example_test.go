package reward_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// exampleLedger wires a memory store and a ledger that knows POINTS.
func exampleLedger() (*memory.Store, *ledger.Ledger, *storage.FakeClock) {
	clock := storage.NewFakeClock(t0)
	mem, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		panic(err)
	}
	assets, err := money.NewRegistry(pts)
	if err != nil {
		panic(err)
	}
	led, err := ledger.New(ledger.Config{Store: mem.Ledger(), Tx: mem, Clock: clock, Assets: assets})
	if err != nil {
		panic(err)
	}
	return mem, led, clock
}

// A member earns a point per dollar, twice that once gold, moves up a
// tier, and redeems points for an offer the host fulfils.
func ExampleLoyalty() {
	ctx := context.Background()
	mem, led, _ := exampleLedger()
	program, err := reward.NewLoyalty(reward.LoyaltyConfig{
		Store: mem.Loyalty(), Tx: mem, Ledger: led, Points: pts, Currency: money.USD,
		Tiers: []reward.TierRule{{Name: "member"}, {Name: "gold", Threshold: 1000}},
		Earning: []reward.EarningRule{
			{ID: "base", Rate: decimal.NewFromInt(1)},
			{ID: "gold-x2", Condition: `user.tier == "gold"`, Multiplier: decimal.NewFromInt(2)},
		},
		Offers: []reward.Offer{{ID: "mug", Cost: 600}},
	})
	if err != nil {
		panic(err)
	}
	if _, err := program.Register(ctx, "shop", reward.Registration{ID: "ann", Email: "ann@example.com"}); err != nil {
		panic(err)
	}
	for i, amount := range []string{"999.99", "10.00", "20.00"} {
		got, err := program.Accrue(ctx, "shop", reward.Accrual{Key: fmt.Sprint("order-", i), Member: "ann", Amount: usd(amount)})
		if err != nil {
			panic(err)
		}
		fmt.Println(got.Points, got.Tier)
	}
	r, err := program.Redeem(ctx, "shop", reward.RedeemRequest{Key: "req-1", Member: "ann", Offer: "mug"})
	if err != nil {
		panic(err)
	}
	fmt.Println("redeemed", r.Points)
	_, err = program.Redeem(ctx, "shop", reward.RedeemRequest{Key: "req-2", Member: "ann", Offer: "mug"})
	fmt.Println(errors.Is(err, reward.ErrInsufficientPoints))
	m, err := program.Member(ctx, "shop", "ann")
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Points, "of", m.Lifetime, "lifetime")
	// Output:
	// 999 POINTS member
	// 10 POINTS gold
	// 40 POINTS gold
	// redeemed 600 POINTS
	// true
	// 449 POINTS of 1049 POINTS lifetime
}

// Points awarded by a challenge are posted through the ledger inside the
// event's transaction; a refund that drops the tier takes them back.
func ExampleNewLedgerAwarder() {
	ctx := context.Background()
	mem, led, _ := exampleLedger()
	awarder, err := reward.NewLedgerAwarder(reward.LedgerAwarderConfig{Ledger: led, Points: "staff:{participant}:points"})
	if err != nil {
		panic(err)
	}
	eng, err := reward.New(reward.Config{Store: mem.Rewards(), Tx: mem, Awarder: awarder})
	if err != nil {
		panic(err)
	}
	_, err = eng.PutCampaign(ctx, "shop", reward.Campaign{ID: "installs", Kind: reward.Challenge, Status: reward.StatusActive,
		Start: t0, End: t0.AddDate(0, 1, 0), EventTypes: []reward.EventType{reward.OrderInstalled},
		Participant: reward.ParticipantStaff, Indicator: reward.Indicator{Strategy: reward.OrderCount},
		Clawback: reward.ClawbackOnReverse, Tiers: []reward.Tier{{Target: 1, Award: points(100)}}})
	if err != nil {
		panic(err)
	}
	balance := func() money.Amount {
		b, err := led.Balance(ctx, "shop", "staff:s1:points", pts)
		if err != nil {
			panic(err)
		}
		return b.Posted
	}
	_, err = eng.Handle(ctx, "shop", reward.Event{ID: "e1", Type: reward.OrderInstalled, Time: t0.Add(time.Hour), StaffID: "s1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(balance())
	_, err = eng.Handle(ctx, "shop", reward.Event{ID: "r1", Type: reward.Refund, OriginalID: "e1", Time: t0.Add(2 * time.Hour), StaffID: "s1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(balance())
	// Output:
	// 100 POINTS
	// 0 POINTS
}
