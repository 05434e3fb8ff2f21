package rules_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// counting returns a Func rule with a fixed outcome that counts its calls.
func counting(name string, pass bool, calls *int) rules.Rule {
	return rules.Func(name, func(*rules.Facts) (bool, string) {
		*calls++
		return pass, name + " failed"
	})
}

func erroring(name string) rules.Rule {
	return rules.Func(name, func(*rules.Facts) (bool, string) { panic("boom") })
}

func TestAllShortCircuits(t *testing.T) {
	var a, b, c int
	r := rules.All("all", counting("a", true, &a), counting("b", false, &b), counting("c", true, &c))
	assert.Equal(t, "all", r.Name())
	res := r.Evaluate(context.Background(), &rules.Facts{})
	assert.False(t, res.Passed)
	assert.Equal(t, "b: b failed", res.Reason)
	require.Len(t, res.Causes, 1)
	assert.Equal(t, "b", res.Causes[0].Rule)
	assert.Equal(t, []int{1, 1, 0}, []int{a, b, c})

	res = rules.All("pass", counting("a", true, &a)).Evaluate(context.Background(), &rules.Facts{})
	assert.Equal(t, rules.Result{Rule: "pass", Passed: true}, res)
	assert.True(t, rules.All("empty").Evaluate(context.Background(), &rules.Facts{}).Passed)
}

func TestAnyShortCircuits(t *testing.T) {
	var a, b, c int
	r := rules.Any("any", counting("a", false, &a), counting("b", true, &b), counting("c", false, &c))
	res := r.Evaluate(context.Background(), &rules.Facts{})
	assert.True(t, res.Passed)
	assert.Equal(t, []int{1, 1, 0}, []int{a, b, c})

	res = rules.Any("none", counting("a", false, &a), counting("c", false, &c)).Evaluate(context.Background(), &rules.Facts{})
	assert.False(t, res.Passed)
	assert.NoError(t, res.Err)
	assert.Equal(t, "none satisfied: a: a failed; c: c failed", res.Reason)
	assert.Len(t, res.Causes, 2)
	assert.False(t, rules.Any("empty").Evaluate(context.Background(), &rules.Facts{}).Passed)
}

func TestAnyWithErrors(t *testing.T) {
	var n int
	// A pass wins over an error.
	res := rules.Any("any", erroring("e"), counting("ok", true, &n)).Evaluate(context.Background(), &rules.Facts{})
	assert.True(t, res.Passed)
	// No pass and an error: an error outcome.
	res = rules.Any("any", erroring("e"), counting("no", false, &n)).Evaluate(context.Background(), &rules.Facts{})
	assert.False(t, res.Passed)
	require.ErrorIs(t, res.Err, rules.ErrEval)
	// Two errors are joined.
	res = rules.Any("any", erroring("e1"), erroring("e2")).Evaluate(context.Background(), &rules.Facts{})
	var ee *rules.EvalError
	require.ErrorAs(t, res.Err, &ee)
	assert.Contains(t, res.Err.Error(), "e1")
	assert.Contains(t, res.Err.Error(), "e2")
}

func TestNot(t *testing.T) {
	var n int
	res := rules.Not("not", counting("a", false, &n)).Evaluate(context.Background(), &rules.Facts{})
	assert.True(t, res.Passed)
	res = rules.Not("not", counting("a", true, &n)).Evaluate(context.Background(), &rules.Facts{})
	assert.False(t, res.Passed)
	assert.Equal(t, "a holds", res.Reason)
	// Not never turns an error into a pass.
	res = rules.Not("not", erroring("e")).Evaluate(context.Background(), &rules.Facts{})
	assert.False(t, res.Passed)
	require.ErrorIs(t, res.Err, rules.ErrEval)
	// Nil parts are errors too.
	res = rules.Not("not", nil).Evaluate(context.Background(), &rules.Facts{})
	require.ErrorIs(t, res.Err, rules.ErrEval)
	res = rules.All("all", nil).Evaluate(context.Background(), &rules.Facts{})
	require.ErrorIs(t, res.Err, rules.ErrEval)
}

func TestCompositeOfCELRules(t *testing.T) {
	env := newEnv(t)
	gold, err := env.Compile("gold", `user.tier == "gold"`)
	require.NoError(t, err)
	app, err := env.Compile("app", `order.channel == "app"`)
	require.NoError(t, err)
	r := rules.All("gold-app", gold, rules.Not("not-refunded", mustCompile(t, env, "refunded", `order.refunded`)), app)
	f := eligibleFacts()
	assert.True(t, r.Evaluate(context.Background(), f).Passed)
	f.Order.Refunded = true
	res := r.Evaluate(context.Background(), f)
	assert.False(t, res.Passed)
	assert.Equal(t, "not-refunded: refunded holds", res.Reason)
}

func mustCompile(t testing.TB, env *rules.Env, name, expr string) *rules.CELRule {
	t.Helper()
	r, err := env.Compile(name, expr)
	require.NoError(t, err)
	return r
}

func TestSetEvaluateAndExplain(t *testing.T) {
	env := newEnv(t)
	set, err := env.Conditions(eligibility15()...)
	require.NoError(t, err)
	assert.Equal(t, 15, set.Len())

	f := eligibleFacts()
	v := set.Evaluate(context.Background(), f)
	assert.True(t, v.Passed)
	assert.Empty(t, v.Failures)
	assert.Equal(t, 15, v.Evaluated)
	assert.NoError(t, v.Err())

	f.Order.Region = "US-CA"
	f.User.DenyListed = true
	f.Counters["user_uses"] = 3
	v = set.Evaluate(context.Background(), f)
	assert.False(t, v.Passed)
	require.Len(t, v.Failures, 1)
	assert.Equal(t, "region_in", v.Failures[0].Rule)
	assert.Equal(t, "region not in CN-31, CN-11", v.Failures[0].Reason)
	assert.Equal(t, 2, v.Evaluated, "stops at the first failure")

	v = set.Explain(context.Background(), f)
	assert.False(t, v.Passed)
	assert.Equal(t, 15, v.Evaluated)
	var names []string
	for _, r := range v.Failures {
		names = append(names, r.Rule)
	}
	assert.Equal(t, []string{"region_in", "not_deny_listed", "per_user_cap"}, names)
	assert.Equal(t, "per-user cap of 3 reached", v.Failures[2].Reason)
	assert.NoError(t, v.Err())
}

func TestSetReportsErrorOutcomes(t *testing.T) {
	env := newEnv(t)
	set, err := env.Conditions(eligibility15()...)
	require.NoError(t, err)
	f := eligibleFacts()
	delete(f.Counters, "budget_left")
	v := set.Evaluate(context.Background(), f)
	assert.False(t, v.Passed)
	require.Len(t, v.Failures, 1)
	assert.Equal(t, "budget_left", v.Failures[0].Rule)
	require.ErrorIs(t, v.Err(), rules.ErrEval)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v = set.Evaluate(ctx, eligibleFacts())
	assert.False(t, v.Passed)
	require.ErrorIs(t, v.Err(), context.Canceled)

	v = set.Evaluate(context.Background(), nil)
	assert.False(t, v.Passed)
	require.ErrorIs(t, v.Err(), rules.ErrEval)
}

func TestSetPriorityDisabledAndWindow(t *testing.T) {
	env := newEnv(t)
	var calls int
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	feb := jan.AddDate(0, 1, 0)
	set, err := rules.NewSet(
		rules.Entry{Rule: mustCompile(t, env, "low", `false`), Priority: 1},
		rules.Entry{Rule: mustCompile(t, env, "high", `order.status == "PAID"`), Priority: 10},
		rules.Entry{Rule: counting("off", false, &calls), Priority: 20, Disabled: true},
		rules.Entry{Rule: mustCompile(t, env, "january", `false`), Priority: 5, From: jan, Until: feb},
	)
	require.NoError(t, err)
	var order []string
	for _, e := range set.Entries() {
		order = append(order, e.Rule.Name())
	}
	assert.Equal(t, []string{"off", "high", "january", "low"}, order)

	f := &rules.Facts{Order: rules.Order{Status: "PAID"}, Now: jan.AddDate(0, 2, 0)}
	v := set.Explain(context.Background(), f)
	assert.Equal(t, 2, v.Evaluated)
	assert.Equal(t, 2, v.Skipped)
	require.Len(t, v.Failures, 1)
	assert.Equal(t, "low", v.Failures[0].Rule)
	assert.Zero(t, calls)

	f.Now = jan.Add(time.Hour)
	v = set.Evaluate(context.Background(), f)
	require.Len(t, v.Failures, 1)
	assert.Equal(t, "january", v.Failures[0].Rule)

	// A windowed rule without Facts.Now is an error outcome.
	f.Now = time.Time{}
	v = set.Evaluate(context.Background(), f)
	require.ErrorIs(t, v.Err(), rules.ErrEval)
	assert.Equal(t, "january", v.Failures[0].Rule)
}

func TestNewSetValidation(t *testing.T) {
	env := newEnv(t)
	r := mustCompile(t, env, "r", `true`)
	now := time.Now()
	tests := []struct {
		name    string
		entries []rules.Entry
		want    error
	}{
		{"nil rule", []rules.Entry{{}}, rules.ErrInvalidDefinition},
		{"empty name", []rules.Entry{{Rule: rules.Func("", nil)}}, rules.ErrInvalidDefinition},
		{"duplicate", []rules.Entry{{Rule: r}, {Rule: r}}, rules.ErrDuplicateID},
		{"window", []rules.Entry{{Rule: r, From: now, Until: now}}, rules.ErrInvalidDefinition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rules.NewSet(tt.entries...)
			require.ErrorIs(t, err, tt.want)
			var de *rules.DefinitionError
			require.ErrorAs(t, err, &de)
		})
	}
}

func TestExplainReportsEveryFailingPartOfComposites(t *testing.T) {
	env := newEnv(t)
	all := rules.All("bundle",
		mustCompile(t, env, "paid", `order.status == "PAID"`),
		mustCompile(t, env, "gold", `user.tier == "gold"`),
		mustCompile(t, env, "app", `order.channel == "app"`))
	set, err := rules.NewSet(rules.Entry{Rule: all})
	require.NoError(t, err)
	f := &rules.Facts{Order: rules.Order{Status: "PAID"}}

	v := set.Evaluate(context.Background(), f)
	require.Len(t, v.Failures, 1)
	assert.Len(t, v.Failures[0].Causes, 1, "Evaluate short-circuits inside the composite")

	v = set.Explain(context.Background(), f)
	require.Len(t, v.Failures, 1)
	causes := v.Failures[0].Causes
	require.Len(t, causes, 2)
	assert.Equal(t, "gold", causes[0].Rule)
	assert.Equal(t, "app", causes[1].Rule)
}

// The one-program fast path of Set.Evaluate must agree with evaluating the
// rules one by one, in order, for any facts.
func TestSetFastPathAgreesWithRuleByRule(t *testing.T) {
	env := newEnv(t)
	conds := eligibility15()
	set, err := env.Conditions(conds...)
	require.NoError(t, err)
	ruleList := make([]*rules.CELRule, len(conds))
	for i, c := range conds {
		ruleList[i], err = c.Rule(env)
		require.NoError(t, err)
	}
	rapid.Check(t, func(t *rapid.T) {
		f := eligibleFacts()
		f.Order.Region = rapid.SampledFrom([]string{"CN-31", "CN-11", "US-CA"}).Draw(t, "region")
		f.Order.Status = rapid.SampledFrom([]string{"PAID", "CREATED"}).Draw(t, "status")
		f.Order.Amount = money.FromMinor(rapid.Int64Range(9_000, 11_000).Draw(t, "amount"), cny)
		f.User.Tier = rapid.SampledFrom([]string{"gold", "silver", ""}).Draw(t, "tier")
		f.User.DenyListed = rapid.Bool().Draw(t, "deny")
		f.Order.FirstOrder = rapid.Bool().Draw(t, "first")
		f.Now = windowFrom.Add(time.Duration(rapid.IntRange(-48, 24*40).Draw(t, "hours")) * time.Hour)
		if rapid.Bool().Draw(t, "dropBudget") {
			delete(f.Counters, "budget_left")
		}
		f.Counters["user_uses"] = rapid.Int64Range(0, 5).Draw(t, "uses")
		if rapid.Bool().Draw(t, "noLines") {
			f.Lines = nil
		}

		v := set.Evaluate(context.Background(), f)
		var want *rules.Result
		for _, r := range ruleList {
			res := r.Evaluate(context.Background(), f)
			if !res.Passed {
				want = &res
				break
			}
		}
		if want == nil {
			assert.True(t, v.Passed)
			assert.Empty(t, v.Failures)
			return
		}
		assert.False(t, v.Passed)
		require.Len(t, v.Failures, 1)
		assert.Equal(t, want.Rule, v.Failures[0].Rule)
		assert.Equal(t, want.Reason, v.Failures[0].Reason)
		assert.Equal(t, want.Err != nil, v.Failures[0].Err != nil)
		assert.Equal(t, errors.Is(want.Err, rules.ErrEval), errors.Is(v.Err(), rules.ErrEval))
	})
}
