package rules_test

import (
	"context"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestConditions(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		cond   rules.Condition
		pass   func(*rules.Facts)
		fail   func(*rules.Facts)
		reason string
	}{
		{rules.ParticipantType("consumer", "rider"),
			func(f *rules.Facts) { f.User.Type = "rider" }, func(f *rules.Facts) { f.User.Type = "merchant" },
			"participant type not in consumer, rider"},
		{rules.RegionIn("CN-31"), nil, func(f *rules.Facts) { f.Order.Region = "CN-11" }, "region not in CN-31"},
		{rules.ShopIn("shop-2"), nil, func(f *rules.Facts) { f.Order.ShopID = "shop-9" }, "shop not in shop-2"},
		{rules.MerchantCategoryIn("cafe", "bakery"),
			func(f *rules.Facts) { f.Merchant.Category = "bakery" }, func(f *rules.Facts) { f.Merchant.Category = "bar" },
			"merchant category not in cafe, bakery"},
		{rules.SKUIn("sku-9"), nil, func(f *rules.Facts) { f.Lines = f.Lines[:1] }, "no line with SKU in sku-9"},
		{rules.CategoryIn("food"), nil, func(f *rules.Facts) { f.Lines[1].Category = "drinks" },
			"no line with category in food"},
		{rules.MinOrderAmount(money.MustParse("128.50", cny)), nil,
			func(f *rules.Facts) { f.Order.Amount = money.MustParse("128.49", cny) }, "order amount below 128.50 CNY"},
		{rules.MinOrderAmount(money.MustParse("100", money.MustCurrency("USD", 2))),
			func(f *rules.Facts) { f.Order.Amount = money.MustParse("100.00", money.MustCurrency("USD", 2)) },
			func(f *rules.Facts) {}, "order amount below 100.00 USD"},
		{rules.OrderStatus("PAID", "COMPLETED"), nil, func(f *rules.Facts) { f.Order.Status = "CANCELLED" },
			"order status not in PAID, COMPLETED"},
		{rules.ChannelIn("app"), nil, func(f *rules.Facts) { f.Order.Channel = "web" }, "channel not in app"},
		{rules.EventType("order_paid"), nil, func(f *rules.Facts) { f.Event.Type = "order_created" },
			"event type not in order_paid"},
		{rules.TimeWindow(windowFrom, windowUntil),
			func(f *rules.Facts) { f.Now = windowFrom }, func(f *rules.Facts) { f.Now = windowUntil }, "outside the time window"},
		{rules.TimeWindow(windowFrom, time.Time{}), nil, func(f *rules.Facts) { f.Now = windowFrom.Add(-time.Nanosecond) },
			"outside the time window"},
		{rules.TimeWindow(time.Time{}, windowUntil), nil, func(f *rules.Facts) { f.Now = windowUntil.Add(time.Hour) },
			"outside the time window"},
		{rules.FirstOrder(), nil, func(f *rules.Facts) { f.Order.FirstOrder = false }, "not the user's first order"},
		{rules.NewUser(), nil, func(f *rules.Facts) { f.User.IsNew = false }, "not a new user"},
		{rules.RegisteredWithin(72 * time.Hour),
			func(f *rules.Facts) { f.User.RegisteredAt = f.Now.Add(-72 * time.Hour) },
			func(f *rules.Facts) { f.User.RegisteredAt = f.Now.Add(-73 * time.Hour) }, "registered more than 72h0m0s ago"},
		{rules.MemberTier("gold", "platinum"), nil, func(f *rules.Facts) { f.User.Tier = "silver" },
			"member tier not in gold, platinum"},
		{rules.NotRefunded(), nil, func(f *rules.Facts) { f.Order.Refunded = true }, "order refunded"},
		{rules.AttendancePresent(), func(f *rules.Facts) { f.User.Attended = true }, func(f *rules.Facts) {},
			"no attendance recorded"},
		{rules.NotDenyListed(), nil, func(f *rules.Facts) { f.User.DenyListed = true }, "user is deny-listed"},
		{rules.HasTag("vip"), func(f *rules.Facts) { f.User.Tags = []string{"new", "vip"} },
			func(f *rules.Facts) { f.User.Tags = []string{"new"} }, "user lacks tag vip"},
		{rules.PerUserCap("user_uses", 2), nil, func(f *rules.Facts) { f.Counters["user_uses"] = 2 },
			"per-user cap of 2 reached"},
		{rules.PerUserCap("first_time", 1), nil, func(f *rules.Facts) { f.Counters["first_time"] = 1 },
			"per-user cap of 1 reached"},
		{rules.BudgetLeft("budget_left", 90_000), nil, func(f *rules.Facts) { f.Counters["budget_left"] = 89_999 },
			"campaign budget exhausted"},
		{rules.MinQuantity("sku-9", 2), nil, func(f *rules.Facts) { f.Lines[1].Quantity = 1 }, "no line with 2 or more of sku-9"},
	}
	for _, tt := range tests {
		t.Run(tt.cond.Name+": "+tt.cond.Expr, func(t *testing.T) {
			require.NoError(t, tt.cond.Err())
			r, err := tt.cond.Rule(env)
			require.NoError(t, err)

			f := eligibleFacts()
			if tt.pass != nil {
				tt.pass(f)
			}
			res := r.Evaluate(context.Background(), f)
			require.NoError(t, res.Err)
			assert.True(t, res.Passed, res.Reason)

			f = eligibleFacts()
			tt.fail(f)
			res = r.Evaluate(context.Background(), f)
			require.NoError(t, res.Err)
			assert.False(t, res.Passed)
			assert.Equal(t, tt.reason, res.Reason)
			assert.Equal(t, tt.cond.Name, res.Rule)
		})
	}
}

func TestBudgetLeftFailsClosedWithoutCounter(t *testing.T) {
	env := newEnv(t)
	r, err := rules.BudgetLeft("budget_left", 1).Rule(env)
	require.NoError(t, err)
	res := r.Evaluate(context.Background(), &rules.Facts{})
	assert.False(t, res.Passed)
	require.ErrorIs(t, res.Err, rules.ErrEval)
}

func TestConditionParameterErrors(t *testing.T) {
	env := newEnv(t)
	bad := map[string]rules.Condition{
		"empty set":          rules.RegionIn(),
		"invalid utf8":       rules.ShopIn("ok", "\xff"),
		"no currency":        rules.MinOrderAmount(money.Amount{}),
		"no bound":           rules.TimeWindow(time.Time{}, time.Time{}),
		"empty window":       rules.TimeWindow(windowUntil, windowFrom),
		"zero duration":      rules.RegisteredWithin(0),
		"empty tag":          rules.HasTag(""),
		"empty counter":      rules.PerUserCap("", 3),
		"zero cap":           rules.PerUserCap("uses", 0),
		"budget need":        rules.BudgetLeft("budget", 0),
		"budget counter":     rules.BudgetLeft("", 1),
		"quantity sku":       rules.MinQuantity("", 1),
		"quantity n":         rules.MinQuantity("sku", 0),
		"bad utf8 in member": rules.MemberTier("\xc3"),
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, c.Err(), rules.ErrInvalidParam)
			_, err := c.Rule(env)
			require.ErrorIs(t, err, rules.ErrInvalidParam)
			_, err = env.Conditions(rules.NewUser(), c)
			require.ErrorIs(t, err, rules.ErrInvalidParam)
		})
	}
}

func TestConditionsDuplicateNamesNeedRenaming(t *testing.T) {
	env := newEnv(t)
	_, err := env.Conditions(rules.RegionIn("a"), rules.RegionIn("b"))
	require.ErrorIs(t, err, rules.ErrDuplicateID)
	set, err := env.Conditions(rules.RegionIn("CN-31"), rules.RegionIn("CN-31", "CN-11").Named("region_wide"))
	require.NoError(t, err)
	assert.True(t, set.Evaluate(context.Background(), eligibleFacts()).Passed)
}

// Any valid UTF-8 parameter is matched exactly: quoting can neither break the
// expression nor inject CEL.
func TestQuoteRoundTrips(t *testing.T) {
	env := newEnv(t)
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		other := rapid.String().Draw(t, "other")
		c := rules.ShopIn(s)
		require.NoError(t, c.Err())
		r, err := c.Rule(env)
		require.NoError(t, err)
		res := r.Evaluate(context.Background(), &rules.Facts{Order: rules.Order{ShopID: s}})
		require.NoError(t, res.Err)
		assert.True(t, res.Passed)
		res = r.Evaluate(context.Background(), &rules.Facts{Order: rules.Order{ShopID: other}})
		assert.Equal(t, s == other, res.Passed)
	})
}

func TestQuote(t *testing.T) {
	for _, s := range []string{``, `a"b`, `\`, "line\nbreak", `'); true || ('`, "\u00e9\U0001F600", "\x00\x7f"} {
		q, err := rules.Quote(s)
		require.NoError(t, err)
		assert.True(t, utf8.ValidString(q))
	}
	_, err := rules.Quote("\xff")
	require.ErrorIs(t, err, rules.ErrInvalidParam)
}
