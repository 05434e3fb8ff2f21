package rules_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rewardkit/rewardkit/rules"
)

func FuzzLoadJSON(f *testing.F) {
	f.Add([]byte(campaignJSON))
	f.Add([]byte(`{"rules": []}`))
	f.Add([]byte(`{"rules": [{"id": "a", "all": [{"expr": "true"}, {"not": {"expr": "order.refunded"}}]}]}`))
	f.Add([]byte(`{"rules": [{"id": "a", "expr": "order.amout > dec(1)"}]}`))
	f.Add([]byte(`{"rules": [{"id": "a", "expr": "true", "from": "2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"rules": [{`))
	env, err := rules.NewEnv()
	if err != nil {
		f.Fatal(err)
	}
	facts := eligibleFacts()
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := env.LoadJSON(data)
		if err != nil {
			if set != nil {
				t.Fatal("set returned with error")
			}
			if !errors.Is(err, rules.ErrInvalidDefinition) && !errors.Is(err, rules.ErrCompile) &&
				!errors.Is(err, rules.ErrDuplicateID) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		v := set.Explain(context.Background(), facts)
		if v.Passed && len(v.Failures) > 0 {
			t.Fatal("passed with failures")
		}
		set.Evaluate(context.Background(), facts)
	})
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`order.amount >= dec("100.00")`,
		`lines.exists(l, l.sku in ["a", "b"])`,
		`dec_div(order.amount, dec(0), 2) > dec(1)`,
		`("x" in counters ? counters["x"] : 0) < 3`,
		`now - user.registered_at <= duration("72h")`,
		`attrs["a"] == 1 || event.attrs["b"] == "c"`,
		`[1, 2, 3].map(x, x * 2).size() == 3`,
		`order.status.matches("^P.*")`,
		`dec("1e9999999999")`,
		`"\xff" == order.id`,
	} {
		f.Add(s)
	}
	for _, c := range eligibility15() {
		f.Add(c.Expr)
	}
	env, err := rules.NewEnv(rules.CostLimit(10_000))
	if err != nil {
		f.Fatal(err)
	}
	// The same rules on CEL's interpreter alone: both paths must agree.
	interp, err := rules.NewEnv(rules.CostLimit(10_000), rules.Interpreted())
	if err != nil {
		f.Fatal(err)
	}
	full := eligibleFacts()
	facts := []*rules.Facts{full, {}, {Counters: map[string]int64{"x": 1}, Lines: full.Lines[:1]}}
	f.Fuzz(func(t *testing.T, src string) {
		r, err := env.Compile("fuzz", src)
		if err != nil {
			if !errors.Is(err, rules.ErrCompile) {
				t.Fatalf("untyped error: %v", err)
			}
			if _, err2 := interp.Compile("fuzz", src); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("compile errors differ: %v vs %v", err, err2)
			}
			return
		}
		ri, err := interp.Compile("fuzz", src)
		if err != nil {
			t.Fatalf("compiles only on the fast env: %v", err)
		}
		for _, fc := range facts {
			res := r.Evaluate(context.Background(), fc)
			if res.Err != nil && res.Passed {
				t.Fatal("error outcome passed")
			}
			if res.Err != nil && !errors.Is(res.Err, rules.ErrEval) {
				t.Fatalf("untyped evaluation error: %v", res.Err)
			}
			want := ri.Evaluate(context.Background(), fc)
			if res.Passed != want.Passed || res.Reason != want.Reason || (res.Err == nil) != (want.Err == nil) {
				t.Fatalf("%s: fast path %+v, interpreter %+v", src, res, want)
			}
		}
	})
}
