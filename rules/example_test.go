package rules_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
)

// A campaign's eligibility built from the standard conditions.
func Example() {
	env, err := rules.NewEnv()
	if err != nil {
		panic(err)
	}
	cny := money.MustCurrency("CNY", 2)
	set, err := env.Conditions(
		rules.RegionIn("CN-31", "CN-11"),
		rules.MinOrderAmount(money.MustParse("100.00", cny)),
		rules.MemberTier("gold", "platinum"),
		rules.PerUserCap("campaign-42/uses", 3),
	)
	if err != nil {
		panic(err)
	}
	facts := &rules.Facts{
		Order:    rules.Order{Region: "CN-31", Amount: money.MustParse("88.00", cny)},
		User:     rules.User{Tier: "gold"},
		Counters: map[string]int64{"campaign-42/uses": 1},
	}
	v := set.Evaluate(context.Background(), facts)
	fmt.Println(v.Passed, v.Failures[0].Rule+":", v.Failures[0].Reason)

	facts.Order.Amount = money.MustParse("120.00", cny)
	fmt.Println(set.Evaluate(context.Background(), facts).Passed)
	// Output:
	// false min_order_amount: order amount below 100.00 CNY
	// true
}

func ExampleEnv_Compile() {
	env, err := rules.NewEnv()
	if err != nil {
		panic(err)
	}
	rule, err := env.Compile("big-basket",
		`dec_sum(lines.map(l, l.amount)) >= dec("50.00") && lines.exists(l, l.category == "fresh")`,
		rules.Reason("basket under 50 or without fresh food"))
	if err != nil {
		panic(err)
	}
	cny := money.MustCurrency("CNY", 2)
	facts := &rules.Facts{Lines: []rules.Line{
		{SKU: "apple", Category: "fresh", Amount: money.MustParse("12.40", cny)},
		{SKU: "tea", Category: "drinks", Amount: money.MustParse("37.60", cny)},
	}}
	fmt.Println(rule.Evaluate(context.Background(), facts).Passed)

	// A misspelt field is caught at compile time, with its position.
	_, err = env.Compile("typo", `order.amout >= dec("10")`)
	var ce *rules.CompileError
	fmt.Println(errors.As(err, &ce), ce.Line, ce.Col, ce.Msg)
	// Output:
	// true
	// true 1 6 undefined field 'amout'
}

func ExampleEnv_LoadJSON() {
	env, err := rules.NewEnv()
	if err != nil {
		panic(err)
	}
	set, err := env.LoadJSON([]byte(`{"rules": [
	  {"id": "paid", "expr": "order.status == \"PAID\"", "priority": 10, "reason": "order not paid"},
	  {"id": "audience", "any": [
	    {"id": "gold", "expr": "user.tier == \"gold\""},
	    {"id": "new", "expr": "user.is_new"}
	  ]},
	  {"id": "spring", "expr": "true", "from": "2026-03-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}
	]}`))
	if err != nil {
		panic(err)
	}
	f := &rules.Facts{
		Order: rules.Order{Status: "PAID"},
		User:  rules.User{IsNew: true},
		Now:   time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
	}
	v := set.Evaluate(context.Background(), f)
	fmt.Println(v.Passed, v.Evaluated, v.Skipped)

	_, err = env.LoadJSON([]byte(`{"rules": [{"id": "bad", "expr": "user.tier = \"gold\""}]}`))
	fmt.Println(errors.Is(err, rules.ErrCompile))
	_, err = env.LoadJSON([]byte(`{"rules": [{"id": "x", "expr": "true", "priorty": 1}]}`))
	fmt.Println(err)
	// Output:
	// true 2 1
	// true
	// rules: rule set JSON: json: unknown field "priorty": rules: invalid definition
}

func ExampleSet_Explain() {
	env, err := rules.NewEnv()
	if err != nil {
		panic(err)
	}
	set, err := env.Conditions(
		rules.ChannelIn("app"),
		rules.NotRefunded(),
		rules.NotDenyListed(),
		rules.BudgetLeft("budget", 500),
	)
	if err != nil {
		panic(err)
	}
	f := &rules.Facts{
		Order: rules.Order{Channel: "web", Refunded: true},
	}
	v := set.Explain(context.Background(), f)
	for _, r := range v.Failures {
		fmt.Printf("%s: %s (error: %t)\n", r.Rule, r.Reason, r.Err != nil)
	}
	fmt.Println(errors.Is(v.Err(), rules.ErrEval))
	// Output:
	// channel_in: channel not in app (error: false)
	// not_refunded: order refunded (error: false)
	// budget_left: error: rules: rule "budget_left": evaluation error: no such key: budget (error: true)
	// true
}

func ExampleAll() {
	paid := rules.Func("paid", func(f *rules.Facts) (bool, string) {
		return f.Order.Status == "PAID", "order not paid"
	})
	app := rules.Func("app", func(f *rules.Facts) (bool, string) {
		return f.Order.Channel == "app", "not ordered in the app"
	})
	both := rules.All("paid-in-app", paid, app)
	either := rules.Any("paid-or-app", paid, app)
	neither := rules.Not("not-paid", paid)

	f := &rules.Facts{Order: rules.Order{Status: "PAID", Channel: "web"}}
	for _, r := range []rules.Rule{both, either, neither} {
		res := r.Evaluate(context.Background(), f)
		fmt.Printf("%s %t %q\n", res.Rule, res.Passed, res.Reason)
	}
	// Output:
	// paid-in-app false "app: not ordered in the app"
	// paid-or-app true ""
	// not-paid false "paid holds"
}

func ExampleFunc() {
	vip := rules.Func("vip", func(f *rules.Facts) (bool, string) {
		v, ok := f.Attrs["vip"].(bool)
		return ok && v, "not a VIP"
	})
	res := vip.Evaluate(context.Background(), &rules.Facts{Attrs: map[string]any{"vip": false}})
	fmt.Println(res.Passed, res.Reason)
	// Output: false not a VIP
}

func ExampleQuote() {
	q, err := rules.Quote(`say "hi"`)
	fmt.Println(q, err)
	// Output: "say \"hi\"" <nil>
}

func ExampleNewSet() {
	env, err := rules.NewEnv()
	if err != nil {
		panic(err)
	}
	first, err := rules.FirstOrder().Rule(env)
	if err != nil {
		panic(err)
	}
	late, err := env.Compile("late-night", `now.getHours() >= 22`)
	if err != nil {
		panic(err)
	}
	set, err := rules.NewSet(
		rules.Entry{Rule: late, Priority: 1},
		rules.Entry{Rule: first, Priority: 2},
	)
	if err != nil {
		panic(err)
	}
	f := &rules.Facts{Order: rules.Order{FirstOrder: true}, Now: time.Date(2026, 5, 1, 23, 0, 0, 0, time.UTC)}
	fmt.Println(set.Evaluate(context.Background(), f).Passed)
	// Output: true
}

// The same rule on the compiled fast path and on CEL's interpreter alone:
// the outcomes, error outcomes included, are the same.
func ExampleInterpreted() {
	fast, err := rules.NewEnv()
	if err != nil {
		panic(err)
	}
	interp, err := rules.NewEnv(rules.Interpreted())
	if err != nil {
		panic(err)
	}
	const expr = `counters["budget_left"] >= 500 && order.first_order`
	for _, facts := range []*rules.Facts{
		{Order: rules.Order{FirstOrder: true}, Counters: map[string]int64{"budget_left": 900}},
		{Order: rules.Order{FirstOrder: false}}, // false && error is false
		{Order: rules.Order{FirstOrder: true}},  // a missing budget is an error
	} {
		var out [2]string
		for i, env := range []*rules.Env{fast, interp} {
			r, err := env.Compile("budget", expr)
			if err != nil {
				panic(err)
			}
			res := r.Evaluate(context.Background(), facts)
			out[i] = fmt.Sprintf("passed=%v error=%v", res.Passed, errors.Is(res.Err, rules.ErrEval))
		}
		fmt.Printf("fast: %s | interpreted: %s\n", out[0], out[1])
	}
	// Output:
	// fast: passed=true error=false | interpreted: passed=true error=false
	// fast: passed=false error=false | interpreted: passed=false error=false
	// fast: passed=false error=true | interpreted: passed=false error=true
}
