package rules_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

var (
	cny         = money.MustCurrency("CNY", 2)
	windowFrom  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	windowUntil = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
)

// eligibility15 is a typical incentive-campaign eligibility set.
func eligibility15() []rules.Condition {
	return []rules.Condition{
		rules.ParticipantType("consumer"),
		rules.RegionIn("CN-31", "CN-11"),
		rules.ShopIn("shop-1", "shop-2", "shop-3"),
		rules.SKUIn("sku-1", "sku-9"),
		rules.MinOrderAmount(money.MustParse("100.00", cny)),
		rules.OrderStatus("PAID"),
		rules.ChannelIn("app", "mini_program"),
		rules.TimeWindow(windowFrom, windowUntil),
		rules.FirstOrder(),
		rules.NewUser(),
		rules.MemberTier("gold", "platinum"),
		rules.NotRefunded(),
		rules.NotDenyListed(),
		rules.PerUserCap("user_uses", 3),
		rules.BudgetLeft("budget_left", 500),
	}
}

// eligibleFacts passes every rule of eligibility15.
func eligibleFacts() *rules.Facts {
	return &rules.Facts{
		Order: rules.Order{
			ID: "o-1", Amount: money.MustParse("128.50", cny), Status: "PAID", Channel: "app",
			Region: "CN-31", ShopID: "shop-2", FirstOrder: true,
		},
		Lines: []rules.Line{
			{SKU: "sku-3", Category: "drinks", Quantity: 1, UnitPrice: money.MustParse("28.50", cny), Amount: money.MustParse("28.50", cny)},
			{SKU: "sku-9", Category: "food", Quantity: 2, UnitPrice: money.MustParse("50.00", cny), Amount: money.MustParse("100.00", cny)},
		},
		User:     rules.User{ID: "u-1", Type: "consumer", Tier: "gold", IsNew: true},
		Event:    rules.Event{ID: "e-1", Type: "order_paid", Time: windowFrom.Add(48 * time.Hour)},
		Now:      windowFrom.Add(48 * time.Hour),
		Counters: map[string]int64{"user_uses": 1, "budget_left": 90_000},
	}
}

// handWritten15 is eligibility15 written by hand in Go.
func handWritten15(f *rules.Facts, minAmount decimal.Decimal) bool {
	if f.User.Type != "consumer" {
		return false
	}
	if !slices.Contains([]string{"CN-31", "CN-11"}, f.Order.Region) {
		return false
	}
	if !slices.Contains([]string{"shop-1", "shop-2", "shop-3"}, f.Order.ShopID) {
		return false
	}
	if !slices.ContainsFunc(f.Lines, func(l rules.Line) bool { return slices.Contains([]string{"sku-1", "sku-9"}, l.SKU) }) {
		return false
	}
	if f.Order.Amount.Currency().Code() != "CNY" || f.Order.Amount.Decimal().Cmp(minAmount) < 0 {
		return false
	}
	if f.Order.Status != "PAID" {
		return false
	}
	if !slices.Contains([]string{"app", "mini_program"}, f.Order.Channel) {
		return false
	}
	if f.Now.Before(windowFrom) || !f.Now.Before(windowUntil) {
		return false
	}
	if !f.Order.FirstOrder || !f.User.IsNew {
		return false
	}
	if !slices.Contains([]string{"gold", "platinum"}, f.User.Tier) {
		return false
	}
	if f.Order.Refunded || f.User.DenyListed {
		return false
	}
	if f.Counters["user_uses"] >= 3 {
		return false
	}
	budget, ok := f.Counters["budget_left"]
	return ok && budget >= 500
}

func BenchmarkRuleSet15(b *testing.B) { benchSet15(b) }

// BenchmarkRuleSet15Interpreted is the same set on CEL's interpreter alone.
func BenchmarkRuleSet15Interpreted(b *testing.B) { benchSet15(b, rules.Interpreted()) }

func benchSet15(b *testing.B, opts ...rules.Option) {
	env, err := rules.NewEnv(opts...)
	require.NoError(b, err)
	set, err := env.Conditions(eligibility15()...)
	require.NoError(b, err)
	f := eligibleFacts()
	ctx := context.Background()
	require.True(b, set.Evaluate(ctx, f).Passed)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v := set.Evaluate(ctx, f); !v.Passed {
			b.Fatal(v.Failures)
		}
	}
}

// BenchmarkRuleSet15Fail fails on the 14th rule (the per-user cap): the
// failure and its reason come from the compiled rules, without CEL.
func BenchmarkRuleSet15Fail(b *testing.B) {
	env, err := rules.NewEnv()
	require.NoError(b, err)
	set, err := env.Conditions(eligibility15()...)
	require.NoError(b, err)
	f := eligibleFacts()
	f.Counters["user_uses"] = 3
	ctx := context.Background()
	require.Equal(b, "per_user_cap", set.Evaluate(ctx, f).Failures[0].Rule)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v := set.Evaluate(ctx, f); v.Passed {
			b.Fatal("passed")
		}
	}
}

func BenchmarkHandWritten15(b *testing.B) {
	f := eligibleFacts()
	minAmount := decimal.RequireFromString("100.00")
	require.True(b, handWritten15(f, minAmount))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if !handWritten15(f, minAmount) {
			b.Fatal("not eligible")
		}
	}
}
