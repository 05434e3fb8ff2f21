package rules_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newEnv(t testing.TB, opts ...rules.Option) *rules.Env {
	t.Helper()
	env, err := rules.NewEnv(opts...)
	require.NoError(t, err)
	return env
}

func TestNewEnvRejectsBadOptions(t *testing.T) {
	for name, opt := range map[string]rules.Option{
		"cost limit":  rules.CostLimit(0),
		"expr length": rules.MaxExpressionLength(0),
		"list size":   rules.MaxListSize(-1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rules.NewEnv(opt)
			require.ErrorIs(t, err, rules.ErrInvalidDefinition)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		name      string
		expr      string
		line, col int
		notBool   bool
	}{
		{"misspelt field", `order.staus == "PAID"`, 1, 6, false},
		{"unknown variable", `ordr.status == "PAID"`, 1, 1, false},
		{"syntax", "order.status ==", 1, 16, false},
		{"second line", "order.status == \"PAID\" &&\n  user.tierr == \"gold\"", 2, 7, false},
		{"type mismatch", `order.amount >= 100`, 1, 14, false},
		{"bad decimal literal", `order.amount >= dec("12,50")`, 1, 21, false},
		{"not bool: string", `order.status`, 1, 1, true},
		{"not bool: decimal", `order.amount`, 1, 1, true},
		{"not bool: dyn", `attrs["vip"]`, 1, 1, true},
		{"empty", "  ", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.Compile("r1", tt.expr)
			require.ErrorIs(t, err, rules.ErrCompile)
			var ce *rules.CompileError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "r1", ce.Rule)
			assert.Equal(t, tt.line, ce.Line, ce.Details)
			assert.Equal(t, tt.col, ce.Col, ce.Details)
			assert.NotEmpty(t, ce.Msg)
			assert.Equal(t, tt.notBool, errors.Is(err, rules.ErrNotBool))
			assert.Contains(t, err.Error(), `"r1"`)
		})
	}
}

func TestCompileRejectsOverlongExpression(t *testing.T) {
	env := newEnv(t, rules.MaxExpressionLength(32))
	_, err := env.Compile("long", `order.status == "PAID" && order.channel == "app"`)
	require.ErrorIs(t, err, rules.ErrCompile)
}

func TestFactFields(t *testing.T) {
	env := newEnv(t)
	f := eligibleFacts()
	f.Order.CreatedAt = windowFrom.Add(time.Hour)
	f.Order.Attrs = map[string]string{"coupon": "WELCOME"}
	f.User.Tags = []string{"vip", "student"}
	f.User.RegisteredAt = windowFrom
	f.User.DeviceID, f.User.Phone, f.User.Region = "d-1", "+86-1", "CN-31"
	f.Event.Attrs = map[string]string{"source": "pos"}
	f.Merchant = rules.Merchant{ID: "m-1", ShopID: "shop-2", Region: "CN-31", Category: "cafe"}
	f.Attrs = map[string]any{"vip": true, "score": 42}
	tests := []string{
		`order.id == "o-1"`,
		`order.amount == dec("128.5")`,
		`order.currency == "CNY"`,
		`order.status == "PAID" && order.channel == "app" && order.region == "CN-31"`,
		`order.shop_id == "shop-2" && order.first_order && !order.refunded`,
		`order.created_at > timestamp("2026-01-01T00:00:00Z")`,
		`order.attrs["coupon"] == "WELCOME"`,
		`size(lines) == 2 && lines[1].sku == "sku-9" && lines[1].quantity == 2`,
		`lines[0].unit_price == dec("28.50") && lines[1].amount == dec(100)`,
		`lines.exists(l, l.category == "food")`,
		`dec_sum(lines.map(l, l.amount)) == order.amount`,
		`user.id == "u-1" && user.type == "consumer" && user.tier == "gold" && user.is_new`,
		`user.device_id == "d-1" && user.phone == "+86-1" && user.region == "CN-31"`,
		`!user.deny_listed && !user.attended && "vip" in user.tags`,
		`now - user.registered_at == duration("48h")`,
		`event.id == "e-1" && event.type == "order_paid" && event.time == now`,
		`event.attrs["source"] == "pos"`,
		`merchant.id == "m-1" && merchant.shop_id == "shop-2" && merchant.region == "CN-31" && merchant.category == "cafe"`,
		`attrs["vip"] == true && attrs["score"] == 42`,
		`counters["user_uses"] == 1 && "budget_left" in counters && !("x" in counters)`,
		`has(order.status) && !has(order.refunded) && has(user.tags)`,
	}
	for _, expr := range tests {
		t.Run(expr, func(t *testing.T) {
			r, err := env.Compile("field", expr)
			require.NoError(t, err)
			res := r.Evaluate(context.Background(), f)
			require.NoError(t, res.Err)
			assert.True(t, res.Passed, res.Reason)
		})
	}
}

func TestDecimalFunctions(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		expr string
		want bool
	}{
		{`dec("100.00") == dec("100")`, true},
		{`dec("0.1") + dec("0.2") == dec("0.3")`, true},
		{`dec_add(dec("0.1"), dec("0.2")) == dec("0.3")`, true},
		{`dec("1.10") - dec("0.10") == dec(1)`, true},
		{`dec_sub(dec("5"), dec("7")) == dec(-2)`, true},
		{`dec("19.99") * dec("3") == dec("59.97")`, true},
		{`dec_mul(dec("0.5"), dec("0.5")) == dec("0.25")`, true},
		{`dec_div(dec("10"), dec("3"), 2) == dec("3.33")`, true},
		{`dec_div(dec("2"), dec("3"), 0) == dec(1)`, true},
		{`dec_round(dec("2.345"), 2) == dec("2.35")`, true},
		{`dec_cmp(dec("1"), dec("2")) == -1 && dec_cmp(dec("2"), dec("2.0")) == 0`, true},
		{`dec("99999999999999999999.01") > dec("99999999999999999999")`, true},
		{`dec("-1") < dec("0") && dec("1") <= dec("1.000") && dec("2") >= dec("1.999")`, true},
		{`dec_sum([dec("1.5"), dec("2.5")]) == dec(4)`, true},
		{`string(dec("12.30")) == "12.3"`, true},
		{`dec("0.1") + dec("0.2") == dec("0.30000000000000004")`, false},
		{`dec(1) > dec(2)`, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			r, err := env.Compile("dec", tt.expr)
			require.NoError(t, err)
			res := r.Evaluate(context.Background(), &rules.Facts{})
			require.NoError(t, res.Err)
			assert.Equal(t, tt.want, res.Passed)
		})
	}
}

func TestEvaluationErrorsAreNeverPasses(t *testing.T) {
	env := newEnv(t)
	tests := []struct{ name, expr string }{
		{"missing counter", `counters["nope"] > 0`},
		{"missing attribute", `attrs["nope"] == 1`},
		{"missing order attr", `order.attrs["nope"] == "x"`},
		{"division by zero", `dec_div(order.amount, dec(0), 2) > dec(1)`},
		{"integer division by zero", `counters["user_uses"] / 0 == 1`},
		{"bad dynamic decimal", `dec(order.status) > dec(1)`},
		{"index out of range", `lines[5].sku == "x"`},
		{"error then true", `counters["nope"] > 0 || false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := env.Compile("err", tt.expr)
			require.NoError(t, err)
			res := r.Evaluate(context.Background(), eligibleFacts())
			assert.False(t, res.Passed)
			require.ErrorIs(t, res.Err, rules.ErrEval)
			assert.NotErrorIs(t, res.Err, rules.ErrCostLimit)
			var ee *rules.EvalError
			require.ErrorAs(t, res.Err, &ee)
			assert.Equal(t, "err", ee.Rule)
			assert.Contains(t, res.Reason, "error")
		})
	}
}

func TestEvaluateNilFactsAndCancelledContext(t *testing.T) {
	env := newEnv(t)
	r, err := env.Compile("r", `true`)
	require.NoError(t, err)
	res := r.Evaluate(context.Background(), nil)
	require.ErrorIs(t, res.Err, rules.ErrEval)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = r.Evaluate(ctx, &rules.Facts{})
	require.ErrorIs(t, res.Err, rules.ErrEval)
	require.ErrorIs(t, res.Err, context.Canceled)
	assert.False(t, res.Passed)
}

func TestCostLimitStopsRunawayExpressions(t *testing.T) {
	env := newEnv(t, rules.CostLimit(5_000))
	r, err := env.Compile("runaway",
		`lines.all(a, lines.all(b, lines.all(c, a.quantity + b.quantity + c.quantity >= 0)))`)
	require.NoError(t, err)
	f := &rules.Facts{}
	for i := range 40 {
		f.Lines = append(f.Lines, rules.Line{SKU: fmt.Sprint("sku-", i), Quantity: 1})
	}
	start := time.Now()
	res := r.Evaluate(context.Background(), f)
	assert.Less(t, time.Since(start), time.Second)
	assert.False(t, res.Passed)
	require.ErrorIs(t, res.Err, rules.ErrCostLimit)
	require.ErrorIs(t, res.Err, rules.ErrEval)

	// The same rule over few lines stays within the limit.
	f.Lines = f.Lines[:3]
	res = r.Evaluate(context.Background(), f)
	require.NoError(t, res.Err)
	assert.True(t, res.Passed)
}

func TestMaxListSizeRefusesOversizedFacts(t *testing.T) {
	env := newEnv(t, rules.MaxListSize(2))
	r, err := env.Compile("lines", `lines.exists(l, l.sku == "a")`)
	require.NoError(t, err)
	f := &rules.Facts{Lines: make([]rules.Line, 3)}
	res := r.Evaluate(context.Background(), f)
	require.ErrorIs(t, res.Err, rules.ErrEval)
	tags, err := env.Compile("tags", `"vip" in user.tags`)
	require.NoError(t, err)
	res = tags.Evaluate(context.Background(), &rules.Facts{User: rules.User{Tags: []string{"a", "b", "vip"}}})
	require.ErrorIs(t, res.Err, rules.ErrEval)
}

func TestRuleReasonAndName(t *testing.T) {
	env := newEnv(t)
	r, err := env.Compile("paid", `order.status == "PAID"`, rules.Reason("order not paid"))
	require.NoError(t, err)
	assert.Equal(t, "paid", r.Name())
	assert.Equal(t, `order.status == "PAID"`, r.Expr())
	res := r.Evaluate(context.Background(), &rules.Facts{})
	assert.Equal(t, rules.Result{Rule: "paid", Reason: "order not paid"}, res)

	plain, err := env.Compile("plain", `order.status == "PAID"`)
	require.NoError(t, err)
	assert.Equal(t, `not satisfied: order.status == "PAID"`, plain.Evaluate(context.Background(), &rules.Facts{}).Reason)
}

func TestFuncRule(t *testing.T) {
	big := rules.Func("big", func(f *rules.Facts) (bool, string) {
		c, err := f.Order.Amount.Cmp(money.MustParse("100.00", cny))
		if err != nil {
			panic(err)
		}
		return c >= 0, "order below 100"
	})
	assert.Equal(t, "big", big.Name())
	res := big.Evaluate(context.Background(), eligibleFacts())
	assert.True(t, res.Passed)

	small := eligibleFacts()
	small.Order.Amount = money.MustParse("99.99", cny)
	res = big.Evaluate(context.Background(), small)
	assert.Equal(t, rules.Result{Rule: "big", Reason: "order below 100"}, res)

	// A panic (here, a currency mismatch) is an error outcome, not a pass.
	usd := eligibleFacts()
	usd.Order.Amount = money.MustParse("500.00", money.MustCurrency("USD", 2))
	res = big.Evaluate(context.Background(), usd)
	require.ErrorIs(t, res.Err, rules.ErrEval)
	assert.False(t, res.Passed)

	res = rules.Func("nil", nil).Evaluate(context.Background(), &rules.Facts{})
	require.ErrorIs(t, res.Err, rules.ErrEval)
	res = big.Evaluate(context.Background(), nil)
	require.ErrorIs(t, res.Err, rules.ErrEval)
	noReason := rules.Func("no-reason", func(*rules.Facts) (bool, string) { return false, "" })
	assert.Equal(t, "not satisfied", noReason.Evaluate(context.Background(), &rules.Facts{}).Reason)
}

func TestConcurrentEvaluation(t *testing.T) {
	env := newEnv(t)
	set, err := env.Conditions(eligibility15()...)
	require.NoError(t, err)
	rule, err := env.Compile("amount", `order.amount >= dec("100")`)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				f := eligibleFacts()
				eligible := (g+i)%2 == 0
				if !eligible {
					f.Order.Amount = money.MustParse("99.99", cny)
				}
				v := set.Evaluate(context.Background(), f)
				assert.Equal(t, eligible, v.Passed)
				if !eligible {
					assert.Equal(t, "min_order_amount", v.Failures[0].Rule)
				}
				assert.Equal(t, eligible, rule.Evaluate(context.Background(), f).Passed)
			}
		}()
	}
	wg.Wait()
}
