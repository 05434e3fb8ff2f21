package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

const tenant storage.TenantID = "acme"

var (
	start  = time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	points = money.MustCurrency("POINTS", 0)
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	clock := storage.NewFakeClock(start)
	store, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		return err
	}
	assets, err := money.NewRegistry(points)
	if err != nil {
		return err
	}
	led, err := ledger.New(ledger.Config{Store: store.Ledger(), Tx: store, Clock: clock, Assets: assets})
	if err != nil {
		return err
	}
	coupons, err := coupon.New(coupon.Config{Store: store.Coupons(), Tx: store, Clock: clock})
	if err != nil {
		return err
	}
	if _, err := coupons.CreateTemplate(ctx, coupon.Template{
		Tenant: tenant, ID: "bonus-50", Name: "50 off the next purchase",
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: money.MustParse("50.00", money.USD)},
		Validity: coupon.Validity{Days: 90}, Limits: coupon.Limits{Stock: 1000},
	}); err != nil {
		return err
	}
	// Points are paid from each campaign's budget account, funded up front.
	pointsAwarder, err := reward.NewLedgerAwarder(reward.LedgerAwarderConfig{
		Ledger: led, Source: "campaign:{campaign}:budget", Points: "staff:{participant}:points", Clock: clock, Outbox: store})
	if err != nil {
		return err
	}
	couponAwarder, err := reward.NewCouponAwarder(coupons)
	if err != nil {
		return err
	}
	for _, c := range []string{"august-sales", "shop-pk"} {
		if _, err := led.Transfer(ctx, tenant, ledger.TransferRequest{Key: "fund-" + c, Postings: []ledger.Posting{
			{Source: ledger.World, Destination: "campaign:" + c + ":budget", Amount: money.FromMinor(10_000, points)}}}); err != nil {
			return err
		}
	}
	eng, err := reward.New(reward.Config{Store: store.Rewards(), Tx: store, Clock: clock,
		Awarder: reward.Awarders{reward.AwardPoints: pointsAwarder, reward.AwardCoupon: couponAwarder}})
	if err != nil {
		return err
	}
	if err := putCampaigns(ctx, eng); err != nil {
		return err
	}

	fmt.Fprintln(out, "== stream")
	seen := map[string]bool{}
	for _, ev := range stream() {
		o, err := eng.Handle(ctx, tenant, ev)
		if err != nil {
			return fmt.Errorf("event %s: %w", ev.ID, err)
		}
		what := describe(o)
		if seen[ev.ID] {
			what = "redelivered: the first outcome again, nothing counted"
		}
		seen[ev.ID] = true
		fmt.Fprintf(out, "%-4s %-15s %s\n", ev.ID, ev.Type, what)
	}

	fmt.Fprintln(out, "== challenge awards held")
	grants, err := eng.Grants(ctx, tenant, "august-sales", "", "")
	if err != nil {
		return err
	}
	for _, g := range grants {
		fmt.Fprintf(out, "%-6s %-7s %-11s %s\n", g.Participant, g.Slot, g.Status, award(g.Award))
	}

	fmt.Fprintln(out, "== shop ranking at close")
	set, err := eng.Close(ctx, tenant, "shop-pk")
	if err != nil {
		return err
	}
	for _, s := range set.Standings {
		fmt.Fprintf(out, "#%d %-6s %d orders\n", s.Rank, s.Participant, s.Value)
	}
	for _, g := range set.Grants {
		fmt.Fprintf(out, "%-6s %-7s %s\n", g.Participant, g.Slot, award(g.Award))
	}

	fmt.Fprintln(out, "== point balances")
	for _, acct := range []string{"staff:ann:points", "staff:bo:points", "staff:cy:points", "staff:north:points", "staff:south:points",
		"campaign:august-sales:budget", "campaign:shop-pk:budget"} {
		b, err := led.Balance(ctx, tenant, acct, points)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-28s %s\n", acct, b.Posted)
	}
	for _, who := range []string{"ann", "bo"} {
		held, err := coupons.ListByUser(ctx, tenant, who)
		if err != nil {
			return err
		}
		var states []string
		for _, c := range held {
			states = append(states, string(c.State))
		}
		slices.Sort(states)
		fmt.Fprintf(out, "coupons of %-3s %v\n", who, states)
	}

	fmt.Fprintln(out, "== outbox")
	counts := map[string]int{}
	for p := range storage.OutboxPartitions {
		msgs, err := store.PendingOutbox(ctx, p, 1000)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if strings.HasPrefix(m.Topic, "reward.") {
				counts[m.Topic]++
			}
		}
	}
	for _, topic := range slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(out, "%-26s %d\n", topic, counts[topic])
	}
	return nil
}

func putCampaigns(ctx context.Context, eng *reward.Engine) error {
	minAmount, err := rules.MinOrderAmount(money.MustParse("20.00", money.USD)).Definition("min-amount")
	if err != nil {
		return err
	}
	challenge := reward.Campaign{
		ID: "august-sales", Name: "August installs", Kind: reward.Challenge, Status: reward.StatusActive,
		Start: start, End: start.AddDate(0, 1, 0), EventTypes: []reward.EventType{reward.OrderInstalled},
		Participant: reward.ParticipantStaff, Rules: []rules.Definition{minAmount},
		Indicator: reward.Indicator{Strategy: reward.OrderCount}, Clawback: reward.ClawbackOnReverse,
		Tiers: []reward.Tier{
			{Target: 2, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(200, points)}},
			{Target: 4, Award: reward.Award{Kind: reward.AwardCoupon, Template: "bonus-50", Quantity: 1, Cost: 50}},
		},
	}
	ranking := reward.Campaign{
		ID: "shop-pk", Name: "Shop PK", Kind: reward.Ranking, Status: reward.StatusActive,
		Start: start, End: start.AddDate(0, 1, 0), EventTypes: []reward.EventType{reward.OrderInstalled},
		Participant: reward.ParticipantShop, Indicator: reward.Indicator{Strategy: reward.OrderCount}, TopN: 3,
		RankRewards: []reward.RankReward{
			{From: 1, To: 1, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(1000, points)}},
			{From: 2, To: 2, Award: reward.Award{Kind: reward.AwardPoints, Amount: money.FromMinor(500, points)}},
		},
	}
	for _, c := range []reward.Campaign{challenge, ranking} {
		if _, err := eng.PutCampaign(ctx, tenant, c); err != nil {
			return err
		}
	}
	return nil
}

// stream is the queue's delivery order: duplicates (e02, e05), a refund
// before its order (r07 before e07), a refund that drops a tier (r04),
// and an order below the challenge's minimum (e08).
func stream() []reward.Event {
	o := func(id, staff, shop string, hour int, amount string) reward.Event {
		return reward.Event{ID: id, Type: reward.OrderInstalled, Time: start.Add(time.Duration(hour) * time.Hour),
			StaffID: staff, ShopID: shop, OrderID: "order-" + id, Amount: money.MustParse(amount, money.USD)}
	}
	r := func(id, of, staff, shop string, hour int) reward.Event {
		return reward.Event{ID: id, Type: reward.Refund, OriginalID: of, Time: start.Add(time.Duration(hour) * time.Hour),
			StaffID: staff, ShopID: shop}
	}
	return []reward.Event{
		o("e01", "ann", "north", 1, "120.00"),
		o("e02", "ann", "north", 2, "80.00"),
		o("e02", "ann", "north", 2, "80.00"),
		o("e03", "bo", "south", 3, "60.00"),
		o("e04", "ann", "north", 4, "45.00"),
		o("e05", "bo", "south", 5, "99.00"),
		o("e05", "bo", "south", 5, "99.00"),
		r("r07", "e07", "bo", "south", 9),
		o("e06", "ann", "north", 6, "30.00"),
		o("e07", "bo", "south", 7, "75.00"),
		o("e08", "cy", "south", 8, "5.00"),
		o("e09", "bo", "south", 10, "40.00"),
		r("r04", "e04", "ann", "north", 11),
		o("e10", "cy", "east", 12, "25.00"),
	}
}

func describe(o reward.Outcome) string {
	var parts []string
	if o.Pending {
		parts = append(parts, "parked until its order arrives")
	}
	for _, c := range o.Counted {
		parts = append(parts, fmt.Sprintf("%s/%s=%d", c.Campaign, c.Participant, c.Value))
	}
	for _, g := range o.Grants {
		parts = append(parts, fmt.Sprintf("%s %s %s", g.Change, g.Participant, award(g.Award)))
	}
	for _, s := range o.Skipped {
		parts = append(parts, fmt.Sprintf("%s skipped (%s)", s.Campaign, strings.Join(s.Reasons, "; ")))
	}
	if len(o.Released) > 0 {
		parts = append(parts, "released "+strings.Join(o.Released, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func award(a reward.Award) string {
	if a.Kind == reward.AwardCoupon {
		return fmt.Sprintf("%dx coupon %s", a.Quantity, a.Template)
	}
	return a.Amount.String()
}
