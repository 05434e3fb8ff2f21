package rules

import (
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/rewardkit/rewardkit/money"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A rule runs without the runtime cost tracker only when the static
// estimate bounds it; check that the actual cost never exceeds that
// estimate, on facts at the list-size bound.
func TestStaticCostBoundsActualCost(t *testing.T) {
	env, err := NewEnv(MaxListSize(50))
	require.NoError(t, err)
	cny := money.MustCurrency("CNY", 2)
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	f := &Facts{
		Order:    Order{Amount: money.MustParse("10.00", cny), Region: "CN-31"},
		User:     User{Type: "consumer", Tier: "gold"},
		Now:      now,
		Counters: map[string]int64{"uses": 1, "budget": 10},
	}
	for range 50 {
		f.Lines = append(f.Lines, Line{SKU: "sku-x", Category: "c", Quantity: 1})
		f.User.Tags = append(f.User.Tags, "tag")
	}
	conds := []Condition{
		ParticipantType("consumer"), RegionIn("CN-31", "CN-11"), SKUIn("a", "b", "c"), CategoryIn("d"),
		MinOrderAmount(money.MustParse("1.00", cny)), TimeWindow(now.Add(-time.Hour), now.Add(time.Hour)),
		RegisteredWithin(time.Hour), PerUserCap("uses", 3), BudgetLeft("budget", 5), HasTag("vip"),
		MinQuantity("sku-y", 2), MemberTier("gold"),
	}
	for _, c := range conds {
		t.Run(c.Name, func(t *testing.T) {
			r, err := c.Rule(env)
			require.NoError(t, err)
			require.True(t, r.bounded, "condition %s should be statically bounded", c.Name)
			ast, iss := env.cel.Compile(c.Expr)
			require.NoError(t, iss.Err())
			prg, err := env.cel.Program(ast, cel.EvalOptions(cel.OptTrackCost))
			require.NoError(t, err)
			a := env.getActivation(f)
			_, det, err := prg.Eval(a)
			env.putActivation(a)
			require.NoError(t, err)
			actual := det.ActualCost()
			require.NotNil(t, actual)
			assert.LessOrEqual(t, *actual, r.maxCost)
		})
	}
}
