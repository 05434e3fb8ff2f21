package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit"
	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

const tenant storage.TenantID = "acme"

// earning is how the program's rules arrive from an admin tool.
const earning = `[
  {"id": "base", "name": "1 point per dollar", "rate": "1"},
  {"id": "gold-x2", "name": "double for gold", "condition": "user.tier == \"gold\"", "multiplier": "2"},
  {"id": "app-launch", "name": "launch week: 50 extra on app orders", "condition": "order.channel == \"app\"",
   "bonus": 50, "start": "2025-09-01T00:00:00Z", "end": "2025-09-08T00:00:00Z"}
]`

func usd(s string) money.Amount { return money.MustParse(s, money.USD) }

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	clock := storage.NewFakeClock(time.Date(2025, 9, 1, 9, 0, 0, 0, time.UTC))
	store, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		return err
	}
	points := money.MustCurrency("POINTS", 0)
	assets, err := money.NewRegistry(points)
	if err != nil {
		return err
	}
	rules, err := reward.ParseEarningRules([]byte(earning))
	if err != nil {
		return err
	}
	// The facade wires the ledger the points live in, the coupon service
	// the offers issue from and, with Config.Loyalty, the program over
	// them (the incentive example wires such services one by one).
	kit, err := rewardkit.New(rewardkit.Config{Store: store, Clock: clock, Assets: assets,
		Loyalty: &reward.LoyaltyConfig{
			Points: points, Currency: money.USD,
			Tiers:   []reward.TierRule{{Name: "member"}, {Name: "silver", Threshold: 500}, {Name: "gold", Threshold: 1500}},
			Earning: rules,
			Offers: []reward.Offer{
				{ID: "ten-off-for-400", Name: "10 off for 400 points", Cost: 400, Template: "ten-off"},
				{ID: "lounge", Name: "gold lounge pass", Cost: 300, Tiers: []string{"gold"}},
			},
			PointsTTL: 90 * 24 * time.Hour,
		},
	})
	if err != nil {
		return err
	}
	program, coupons := kit.Loyalty, kit.Coupons
	if _, err := coupons.CreateTemplate(ctx, coupon.Template{
		Tenant: tenant, ID: "ten-off", Name: "10 off",
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: usd("10.00")},
		Validity: coupon.Validity{Days: 30}, Limits: coupon.Limits{Stock: 2},
	}); err != nil {
		return err
	}

	for _, r := range []reward.Registration{{ID: "mia", Email: "mia@example.com", Name: "Mia"}, {ID: "leo", Email: "leo@example.com", Name: "Leo"}} {
		if _, err := program.Register(ctx, tenant, r); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "== earn")
	seen := map[string]bool{}
	accrue := func(a reward.Accrual) error {
		got, err := program.Accrue(ctx, tenant, a)
		if err != nil {
			return err
		}
		if seen[a.Key] {
			fmt.Fprintf(out, "%-4s redelivered: the first result again, nothing earned\n", a.Key)
			return nil
		}
		seen[a.Key] = true
		line := fmt.Sprintf("%-4s %-3s %11s -> %-11s rules %-22s lifetime %-5s tier %s",
			a.Key, a.Member, a.Amount, got.Points, strings.Join(got.Rules, ","), got.Lifetime.Decimal(), got.Tier)
		if c := got.TierChange; c != nil {
			line += fmt.Sprintf(" (up from %s)", c.From)
		}
		fmt.Fprintln(out, line)
		return nil
	}
	for _, a := range []reward.Accrual{
		{Key: "o-1", Member: "mia", Amount: usd("120.50"), Channel: "web"},
		{Key: "o-2", Member: "mia", Amount: usd("399.99"), Channel: "app"},
		{Key: "o-2", Member: "mia", Amount: usd("399.99"), Channel: "app"}, // redelivered: counted once
		{Key: "o-3", Member: "leo", Amount: usd("80.00"), Channel: "app"},
		{Key: "o-4", Member: "mia", Amount: usd("1000.00"), Channel: "web"},
		{Key: "o-5", Member: "mia", Amount: usd("50.00"), Channel: "web"},
	} {
		if err := accrue(a); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "== redeem")
	redeem := func(key, member, offer string) error {
		r, err := program.Redeem(ctx, tenant, reward.RedeemRequest{Key: key, Member: member, Offer: offer})
		switch {
		case errors.Is(err, reward.ErrInsufficientPoints):
			fmt.Fprintf(out, "%-4s %-3s %-16s refused: not enough points\n", key, member, offer)
		case errors.Is(err, reward.ErrOfferUnavailable):
			fmt.Fprintf(out, "%-4s %-3s %-16s refused: not open to the member's tier\n", key, member, offer)
		case err != nil:
			return err
		default:
			what := "fulfilled by the host"
			if r.CouponID != "" {
				c, err := coupons.Coupon(ctx, tenant, r.CouponID)
				if err != nil {
					return err
				}
				what = fmt.Sprintf("coupon %s %s", c.TemplateID, c.State)
			}
			fmt.Fprintf(out, "%-4s %-3s %-16s -%s, %s\n", key, member, offer, r.Points, what)
		}
		return nil
	}
	for _, r := range [][3]string{{"r-1", "mia", "ten-off-for-400"}, {"r-2", "mia", "lounge"}, {"r-3", "leo", "ten-off-for-400"}, {"r-4", "leo", "lounge"}} {
		if err := redeem(r[0], r[1], r[2]); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "== 60 days later: leo earns again; 91 days after the start, the first lots lapse")
	clock.Advance(60 * 24 * time.Hour)
	if err := accrue(reward.Accrual{Key: "o-6", Member: "leo", Amount: usd("20.00"), Channel: "app"}); err != nil {
		return err
	}
	clock.Advance(31 * 24 * time.Hour)
	sweep, err := kit.Ledger.SweepExpired(ctx, tenant, clock.Now(), 100)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "expiry sweep: %d account(s)\n", len(sweep.Transactions))

	fmt.Fprintln(out, "== members")
	for _, id := range []string{"mia", "leo"} {
		m, err := program.Member(ctx, tenant, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-3s %-6s points %-5s lifetime %-5s registered %s last active %s\n", m.ID, m.Tier, m.Points.Decimal(),
			m.Lifetime.Decimal(), m.RegisteredAt.Format(time.DateOnly), m.LastActivity.Format(time.DateOnly))
	}

	fmt.Fprintln(out, "== history of mia")
	h, err := program.History(ctx, tenant, "mia", 0, 20)
	if err != nil {
		return err
	}
	for i := len(h.Entries) - 1; i >= 0; i-- {
		e := h.Entries[i]
		fmt.Fprintf(out, "%s %-8s %6s  balance %s\n", e.At.Format(time.DateOnly), e.Kind, e.Amount.Decimal(), e.Balance.Decimal())
	}
	for _, c := range h.Tiers {
		fmt.Fprintf(out, "%s tier %s -> %s (%s)\n", c.At.Format(time.DateOnly), c.From, c.To, c.Reason)
	}
	return nil
}
