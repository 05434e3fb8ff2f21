package rules

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/rewardkit/rewardkit/money"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

var (
	diffCNY   = money.MustCurrency("CNY", 2)
	diffUSD   = money.MustCurrency("USD", 2)
	diffStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	diffEnd   = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
)

// diffMaxList is small so that generated facts sometimes go over it.
const diffMaxList = 3

// standardConditions is every standard condition template, with parameters
// that the generated facts hit and miss.
func standardConditions() []Condition {
	return []Condition{
		ParticipantType("consumer", "rider"),
		RegionIn("CN-31", "CN-11"),
		ShopIn("shop-1", "shop-2", "shop-3"),
		MerchantCategoryIn("cafe", "bakery"),
		SKUIn("sku-1", "sku-9"),
		CategoryIn("food"),
		MinOrderAmount(money.MustParse("100.00", diffCNY)),
		OrderStatus("PAID", "COMPLETED"),
		ChannelIn("app", "mini_program"),
		EventType("order_paid"),
		TimeWindow(diffStart, diffEnd),
		TimeWindow(diffStart, time.Time{}),
		TimeWindow(time.Time{}, diffEnd),
		FirstOrder(),
		NewUser(),
		RegisteredWithin(72 * time.Hour),
		MemberTier("gold", "platinum"),
		NotRefunded(),
		AttendancePresent(),
		NotDenyListed(),
		HasTag("vip"),
		PerUserCap("user_uses", 3),
		BudgetLeft("budget_left", 500),
		MinQuantity("sku-9", 2),
	}
}

// handwrittenCorpus exercises every node of the fast subset, the error
// cases of && || ?: exists and all, and a few shapes that must fall back.
var handwrittenCorpus = []string{
	`counters["budget_left"] >= 500 && order.first_order`,
	`order.first_order && counters["budget_left"] >= 500`,
	`counters["missing"] > 0 && false`,
	`false && counters["missing"] > 0`,
	`counters["missing"] > 0 || true`,
	`true || counters["missing"] > 0`,
	`counters["missing"] > 0 || order.refunded`,
	`order.refunded || counters["missing"] > 0`,
	`!(counters["x"] == 1)`,
	`counters["x"] == 1 ? counters["missing"] > 0 : user.is_new`,
	`("user_uses" in counters ? counters["user_uses"] : 0) < 3`,
	`has(counters.x) && counters.x > 1`,
	`counters.x > 1`,
	`size(counters) >= 2 || counters.size() == 0`,
	`"k" in order.attrs && order.attrs["k"] == "v"`,
	`event.attrs["k"] == "v"`,
	`has(event.attrs.k)`,
	`order.attrs.size() > 0`,
	`"flag" in attrs`,
	`has(attrs.flag)`,
	`size(attrs) == 0`,
	`has(order.id) && has(user.tier) && !has(order.amount)`,
	`has(merchant.category) || has(event.time) || has(user.registered_at)`,
	`lines.exists(l, has(l.sku) && l.quantity > 1)`,
	`lines.all(l, l.amount >= l.unit_price)`,
	`lines.all(l, l.sku in ["sku-1", "sku-9"])`,
	`lines.exists(l, counters[l.sku] > 0)`,
	`lines.all(l, counters[l.sku] > 0)`,
	`lines.exists(order, order.sku == "sku-9")`,
	`size(lines) > 1 && lines.size() < 3`,
	`user.tags.exists(t, t.startsWith("v"))`,
	`user.tags.all(t, t != "banned")`,
	`user.tags.exists(t, counters[t] > 1)`,
	`"vip" in user.tags || size(user.tags) == 0`,
	`user.id.startsWith("u-") && user.phone.endsWith("9") || merchant.id.contains("m")`,
	`size(order.id) >= 3 && order.id.size() < 10`,
	`order.region < "CN-2" || order.region >= "US"`,
	`order.status != "PAID"`,
	`user.is_new == order.first_order`,
	`user.is_new != true`,
	`user.is_new < order.first_order`,
	`order.amount > dec(100) && order.amount <= dec("1000.00")`,
	`order.amount == dec("128.5")`,
	`order.amount != dec("0")`,
	`lines.exists(l, l.amount == order.amount)`,
	`order.currency == "CNY" && order.amount < dec("128.50")`,
	`order.amount >= dec("128.505") || order.amount < dec("-0.001")`,
	`dec("99.99") <= order.amount && dec("100") != order.amount`,
	`order.amount < dec("99999999999999999999.5") && order.amount > dec("-99999999999999999999")`,
	`lines.exists(l, l.unit_price > dec("28.499") && l.amount <= dec(100))`,
	`now >= timestamp("2026-01-01T00:00:00Z") && now < timestamp("2026-02-01T00:00:00Z")`,
	`event.time == now || event.time > order.created_at`,
	`now - user.registered_at <= duration("72h")`,
	`user.registered_at + duration("24h") > now`,
	`duration("1h") + user.registered_at > now`,
	`now - duration("1h") != order.created_at`,
	`user.registered_at <= now && user.registered_at >= now - duration("259200s")`,
	`duration("1h") < duration("2h") && now - order.created_at > duration("0s")`,
	`lines.exists(l, l.quantity in [1, 2, 3])`,
	`order.shop_id in ["a", "b", "c", "d", "e", "f", "g", "h", "shop-1", "shop-2"]`,
	`lines.exists(l, l.quantity in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])`,
	`user.tier in ["gold"] == true`,
	// Outside the subset: these must fall back and still agree.
	`attrs["flag"] == true`,
	`lines.map(l, l.quantity).size() > 0`,
	`dec_sum(lines.map(l, l.amount)) >= dec(50)`,
	`order.status.matches("^P")`,
	`counters["x"] + 1 > 2`,
	`lines.exists(l, lines.exists(m, m.sku == l.sku && m.quantity > l.quantity))`,
	`lines.exists_one(l, l.sku == "sku-9")`,
	`double(counters["x"]) > 1.5`,
	`string(order.amount) == "128.5"`,
	`order.created_at - duration("2562047h") < now`,
}

// fallbackCorpus lists the corpus entries that are expected to stay on CEL.
var fallbackCorpus = map[string]bool{
	`attrs["flag"] == true`:                                                       true,
	`lines.map(l, l.quantity).size() > 0`:                                         true,
	`dec_sum(lines.map(l, l.amount)) >= dec(50)`:                                  true,
	`order.status.matches("^P")`:                                                  true,
	`counters["x"] + 1 > 2`:                                                       true,
	`lines.exists_one(l, l.sku == "sku-9")`:                                       true,
	`double(counters["x"]) > 1.5`:                                                 true,
	`string(order.amount) == "128.5"`:                                             true,
	`lines.exists(l, lines.exists(m, m.sku == l.sku && m.quantity > l.quantity))`: true,
	// String functions are not statically cost-bounded (a fact string has no
	// length bound), so they keep CEL's runtime cost limit.
	`user.id.startsWith("u-") && user.phone.endsWith("9") || merchant.id.contains("m")`: true,
}

// fieldExprs reads every declared field of every fact struct once, so that
// the fast readers and the CEL descriptors are compared field by field.
func fieldExprs(t require.TestingT) []string {
	var out []string
	for v, d := range map[string]*structDesc{"order": orderDesc, "user": userDesc, "event": eventDesc, "merchant": merchantDesc, "l": lineDesc} {
		for _, name := range d.names {
			ref := v + "." + name
			var e string
			switch ft := d.fields[name].Type; {
			case ft.IsExactType(types.StringType):
				e = ref + ` == "a" || ` + ref + ` < "m"`
			case ft.IsExactType(types.BoolType):
				e = ref
			case ft.IsExactType(types.IntType):
				e = ref + " > 1"
			case ft.IsExactType(types.TimestampType):
				e = ref + " < now"
			case ft.IsExactType(decimalType):
				e = ref + ` >= dec("50")`
			case ft.IsExactType(types.NewMapType(types.StringType, types.StringType)):
				e = `"k" in ` + ref + ` && ` + ref + `["k"] == "v"`
			case ft.IsExactType(types.NewListType(types.StringType)):
				e = `"vip" in ` + ref
			default:
				require.Fail(t, "field type without a test expression", "%s: %v", ref, ft)
			}
			if v == "l" {
				e = "lines.exists(l, " + e + ")"
			}
			out = append(out, e)
		}
	}
	return out
}

type diffCase struct {
	expr        string
	fast, slow  *CELRule
	wantCompile bool // the fast path must have compiled it
}

func diffCases(t *testing.T) []diffCase {
	t.Helper()
	fastEnv, err := NewEnv(MaxListSize(diffMaxList))
	require.NoError(t, err)
	slowEnv, err := NewEnv(MaxListSize(diffMaxList), Interpreted())
	require.NoError(t, err)
	var exprs []string
	want := map[string]bool{}
	for _, c := range standardConditions() {
		require.NoError(t, c.Err())
		exprs = append(exprs, c.Expr)
		want[c.Expr] = true
	}
	for _, e := range append(handwrittenCorpus, fieldExprs(t)...) {
		exprs = append(exprs, e)
		want[e] = !fallbackCorpus[e]
	}
	var out []diffCase
	for i, e := range exprs {
		name := fmt.Sprintf("r%d", i)
		f, err := fastEnv.Compile(name, e)
		require.NoError(t, err, e)
		s, err := slowEnv.Compile(name, e)
		require.NoError(t, err, e)
		require.Nil(t, s.fast, "Interpreted env compiled a fast path: %s", e)
		if want[e] {
			require.NotNil(t, f.fast, "expected a fast path for %s", e)
		} else {
			require.Nil(t, f.fast, "expected CEL only for %s", e)
		}
		out = append(out, diffCase{expr: e, fast: f, slow: s, wantCompile: want[e]})
	}
	return out
}

// factsGen draws facts from small pools, so that equalities both hit and
// miss, with missing map keys, empty fields and lists over diffMaxList.
func factsGen() *rapid.Generator[*Facts] {
	str := func(pool ...string) *rapid.Generator[string] { return rapid.SampledFrom(pool) }
	amount := rapid.Custom(func(t *rapid.T) money.Amount {
		cur := rapid.SampledFrom([]money.Currency{diffCNY, diffUSD, {}}).Draw(t, "cur")
		units := rapid.Int64Range(-1000, 30000).Draw(t, "units")
		exp := rapid.Int32Range(-3, 1).Draw(t, "exp")
		return money.New(decimal.New(units, exp), cur)
	})
	when := rapid.Custom(func(t *rapid.T) time.Time {
		if rapid.IntRange(0, 9).Draw(t, "zero") == 0 {
			return time.Time{}
		}
		hours := rapid.IntRange(-24*40, 24*40).Draw(t, "hours")
		return diffStart.Add(time.Duration(hours) * time.Hour)
	})
	strMap := rapid.Custom(func(t *rapid.T) map[string]string {
		if rapid.Bool().Draw(t, "nil") {
			return nil
		}
		return rapid.MapOfN(str("k", "j", "sku-9"), str("v", "w", ""), 0, 3).Draw(t, "m")
	})
	line := rapid.Custom(func(t *rapid.T) Line {
		return Line{
			SKU:       str("sku-1", "sku-3", "sku-9", "", "a").Draw(t, "sku"),
			Category:  str("food", "drinks", "").Draw(t, "cat"),
			Quantity:  rapid.Int64Range(-1, 12).Draw(t, "qty"),
			UnitPrice: amount.Draw(t, "unit"),
			Amount:    amount.Draw(t, "amount"),
		}
	})
	return rapid.Custom(func(t *rapid.T) *Facts {
		f := &Facts{
			Order: Order{
				ID: str("o-1", "", "a", "u-9").Draw(t, "oid"), Amount: amount.Draw(t, "amount"),
				Status: str("PAID", "COMPLETED", "NEW", "").Draw(t, "status"), Channel: str("app", "web", "mini_program").Draw(t, "ch"),
				Region: str("CN-31", "CN-11", "US", "", "CN-2").Draw(t, "region"), ShopID: str("shop-1", "shop-2", "shop-9", "h", "").Draw(t, "shop"),
				FirstOrder: rapid.Bool().Draw(t, "first"), Refunded: rapid.Bool().Draw(t, "refunded"),
				CreatedAt: when.Draw(t, "created"), Attrs: strMap.Draw(t, "oattrs"),
			},
			Lines: rapid.SliceOfN(line, 0, diffMaxList+1).Draw(t, "lines"),
			User: User{
				ID: str("u-1", "", "a", "m").Draw(t, "uid"), Type: str("consumer", "rider", "merchant").Draw(t, "type"),
				Tier: str("gold", "platinum", "silver", "").Draw(t, "tier"), Region: str("CN-31", "z").Draw(t, "uregion"),
				DeviceID: str("d", "").Draw(t, "dev"), Phone: str("139", "1389", "").Draw(t, "phone"),
				IsNew: rapid.Bool().Draw(t, "new"), DenyListed: rapid.Bool().Draw(t, "deny"), Attended: rapid.Bool().Draw(t, "att"),
				RegisteredAt: when.Draw(t, "reg"),
				Tags:         rapid.SliceOfN(str("vip", "v2", "banned", "budget_left", "x"), 0, diffMaxList+1).Draw(t, "tags"),
			},
			Event: Event{
				ID: str("e", "").Draw(t, "eid"), Type: str("order_paid", "order_created").Draw(t, "etype"),
				Time: when.Draw(t, "etime"), Attrs: strMap.Draw(t, "eattrs"),
			},
			Merchant: Merchant{
				ID: str("m-1", "", "x").Draw(t, "mid"), ShopID: str("shop-1", "").Draw(t, "mshop"),
				Region: str("CN-31", "").Draw(t, "mregion"), Category: str("cafe", "bakery", "bar", "").Draw(t, "mcat"),
			},
			Now: when.Draw(t, "now"),
		}
		if !rapid.Bool().Draw(t, "nilCounters") {
			f.Counters = rapid.MapOfN(str("user_uses", "budget_left", "x", "sku-9", "vip", "v2"),
				rapid.SampledFrom([]int64{-1, 0, 1, 2, 3, 499, 500, 90_000}), 0, 4).Draw(t, "counters")
		}
		if rapid.Bool().Draw(t, "hasAttrs") {
			f.Attrs = map[string]any{"flag": rapid.Bool().Draw(t, "flag")}
		}
		return f
	})
}

// outcome is pass, fail or error, the three results a rule can have.
type outcome int

const (
	outFail outcome = iota
	outPass
	outError
)

func (o outcome) String() string { return [...]string{"fail", "pass", "error"}[o] }

func celOutcome(r *CELRule, f *Facts) outcome {
	a := r.env.getActivation(f)
	defer r.env.putActivation(a)
	res := r.eval(a)
	switch {
	case res.Err != nil:
		return outError
	case res.Passed:
		return outPass
	}
	return outFail
}

// rawFast is the closure tree's own outcome, before any fallback; ok is
// false when the rule would hand the facts to CEL without running it.
func rawFast(r *CELRule, f *Facts) (o outcome, ok bool) {
	if (r.uses.user && len(f.User.Tags) > r.env.maxList) || (r.uses.lines && len(f.Lines) > r.env.maxList) {
		return 0, false
	}
	v, err := r.fast(f, scope{})
	switch {
	case err != nil:
		return outError, true
	case v:
		return outPass, true
	}
	return outFail, true
}

// checkAgree compares the two paths on one rule and one set of facts: the
// raw closure outcome with CEL's, then the public results in full.
func checkAgree(t require.TestingT, c diffCase, f *Facts) {
	want := celOutcome(c.slow, f)
	if c.fast.fast != nil {
		if got, ok := rawFast(c.fast, f); ok {
			require.Equal(t, want, got, "%s", c.expr)
		}
	}
	ctx := context.Background()
	got, exp := c.fast.Evaluate(ctx, f), c.slow.Evaluate(ctx, f)
	require.Equal(t, exp.Passed, got.Passed, c.expr)
	require.Equal(t, exp.Reason, got.Reason, c.expr)
	require.Equal(t, exp.Err == nil, got.Err == nil, c.expr)
	if exp.Err != nil {
		require.Equal(t, exp.Err.Error(), got.Err.Error(), c.expr)
	}
}

func TestFastPathAgreesWithCEL(t *testing.T) {
	cases := diffCases(t)
	outcomes := make(map[string]map[outcome]int, len(cases))
	rapid.Check(t, func(rt *rapid.T) {
		f := factsGen().Draw(rt, "facts")
		for _, c := range cases {
			checkAgree(rt, c, f)
			if outcomes[c.expr] == nil {
				outcomes[c.expr] = map[outcome]int{}
			}
			outcomes[c.expr][celOutcome(c.slow, f)]++
		}
	})
	// The fixed facts too, so that rare outcomes (a counter at or above a
	// bound) are covered whatever the random draw.
	for _, f := range diffFacts() {
		for _, c := range cases {
			checkAgree(t, c, f)
			if outcomes[c.expr] == nil {
				outcomes[c.expr] = map[outcome]int{}
			}
			outcomes[c.expr][celOutcome(c.slow, f)]++
		}
	}
	// Random and fixed facts together must reach both pass and fail for
	// the standard conditions, or the comparison above proves little.
	for _, c := range standardConditions() {
		o := outcomes[c.Expr]
		assert.Positive(t, o[outPass], "%s never passed", c.Expr)
		assert.Positive(t, o[outFail]+o[outError], "%s never failed", c.Expr)
	}
	errored := 0
	for _, o := range outcomes {
		errored += o[outError]
	}
	assert.Positive(t, errored, "no generated facts reached an error outcome")
}

func TestFastSetAgreesWithCEL(t *testing.T) {
	fastEnv, err := NewEnv(MaxListSize(diffMaxList))
	require.NoError(t, err)
	slowEnv, err := NewEnv(MaxListSize(diffMaxList), Interpreted())
	require.NoError(t, err)
	conds := standardConditions()
	for i := range conds {
		conds[i] = conds[i].Named(fmt.Sprintf("%s_%d", conds[i].Name, i))
	}
	// Mixed in: a rule outside the subset, a disabled one and a windowed one.
	build := func(env *Env) *Set {
		var entries []Entry
		for _, c := range conds {
			r, err := c.Rule(env)
			require.NoError(t, err)
			entries = append(entries, Entry{Rule: r})
		}
		slow, err := env.Compile("slow", `dec_sum(lines.map(l, l.amount)) >= dec(0)`)
		require.NoError(t, err)
		slow2, err := env.Compile("slow2", `lines.map(l, l.quantity).size() >= 0`)
		require.NoError(t, err)
		off, err := env.Compile("off", `false`)
		require.NoError(t, err)
		win, err := env.Compile("win", `order.first_order`)
		require.NoError(t, err)
		entries = append(entries, Entry{Rule: slow, Priority: -1}, Entry{Rule: slow2, Priority: 1}, Entry{Rule: off, Disabled: true},
			Entry{Rule: win, From: diffStart, Until: diffEnd})
		s, err := NewSet(entries...)
		require.NoError(t, err)
		return s
	}
	fastSet, slowSet := build(fastEnv), build(slowEnv)
	compiled := 0
	for _, r := range fastSet.compiled {
		if r != nil {
			compiled++
		}
	}
	require.Equal(t, len(conds), compiled, "every standard condition compiles; the other rules do not")
	require.NotNil(t, fastSet.fast, "the two rules outside the subset share one CEL program")
	require.Equal(t, 2, fastSet.fast.n)
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		f := factsGen().Draw(rt, "facts")
		// Drop some rules' failures so that the set sometimes passes.
		if rapid.Bool().Draw(rt, "eligible") {
			f.Counters = map[string]int64{"user_uses": 0, "budget_left": 1000}
		}
		for _, explain := range []bool{false, true} {
			got, want := fastSet.run(ctx, f, explain), slowSet.run(ctx, f, explain)
			require.Equal(rt, want.Passed, got.Passed)
			require.Equal(rt, want.Evaluated, got.Evaluated)
			require.Equal(rt, want.Skipped, got.Skipped)
			require.Equal(rt, len(want.Failures), len(got.Failures))
			for i := range want.Failures {
				w, g := want.Failures[i], got.Failures[i]
				require.Equal(rt, w.Rule, g.Rule)
				require.Equal(rt, w.Reason, g.Reason)
				require.Equal(rt, w.Err == nil, g.Err == nil)
			}
		}
	})
}

// diffFacts are the fixed facts the fuzz target evaluates on.
func diffFacts() []*Facts {
	full := &Facts{
		Order: Order{ID: "o-1", Amount: money.MustParse("128.50", diffCNY), Status: "PAID", Channel: "app",
			Region: "CN-31", ShopID: "shop-2", FirstOrder: true, CreatedAt: diffStart, Attrs: map[string]string{"k": "v"}},
		Lines: []Line{
			{SKU: "sku-3", Category: "drinks", Quantity: 1, UnitPrice: money.MustParse("28.50", diffCNY), Amount: money.MustParse("28.50", diffCNY)},
			{SKU: "sku-9", Category: "food", Quantity: 2, UnitPrice: money.MustParse("50", diffCNY), Amount: money.MustParse("100", diffCNY)},
		},
		User:     User{ID: "u-1", Type: "consumer", Tier: "gold", IsNew: true, RegisteredAt: diffStart.Add(-time.Hour), Tags: []string{"vip"}},
		Event:    Event{ID: "e-1", Type: "order_paid", Time: diffStart.Add(time.Hour), Attrs: map[string]string{"k": "w"}},
		Merchant: Merchant{ID: "m-1", Category: "cafe"},
		Now:      diffStart.Add(48 * time.Hour),
		Attrs:    map[string]any{"flag": true},
		Counters: map[string]int64{"user_uses": 1, "budget_left": 90_000, "sku-9": 0},
	}
	over := *full
	over.Lines = make([]Line, diffMaxList+1)
	over.User.Tags = []string{"a", "b", "c", "d"}
	// late is full after the window, refunded, attended and with its
	// counters at their bounds, so that the fixed facts alone make every
	// standard condition both pass and fail, whatever the random draw.
	late := *full
	late.Now = diffEnd.Add(24 * time.Hour)
	late.Counters = map[string]int64{"user_uses": 3, "budget_left": 499, "sku-9": 0}
	late.Order.Refunded, late.User.Attended = true, true
	return []*Facts{full, {}, &over, &late}
}

func FuzzFastPath(f *testing.F) {
	for _, c := range standardConditions() {
		f.Add(c.Expr)
	}
	for _, e := range handwrittenCorpus {
		f.Add(e)
	}
	fastEnv, err := NewEnv(MaxListSize(diffMaxList), CostLimit(10_000))
	if err != nil {
		f.Fatal(err)
	}
	slowEnv, err := NewEnv(MaxListSize(diffMaxList), CostLimit(10_000), Interpreted())
	if err != nil {
		f.Fatal(err)
	}
	facts := diffFacts()
	f.Fuzz(func(t *testing.T, src string) {
		fr, err := fastEnv.Compile("fuzz", src)
		if err != nil {
			return
		}
		sr, err := slowEnv.Compile("fuzz", src)
		require.NoError(t, err, "compiles in one env only")
		for _, fc := range facts {
			checkAgree(t, diffCase{expr: src, fast: fr, slow: sr}, fc)
		}
	})
}

func TestFastPathFieldsCovered(t *testing.T) {
	// Every declared field has a fast reader (or presence test), so no
	// rule falls back merely for naming a field.
	for v, d := range map[string]*structDesc{"order": orderDesc, "user": userDesc, "event": eventDesc, "merchant": merchantDesc, "line": lineDesc} {
		for _, name := range d.names {
			_, err := structField(v, name)
			assert.NoError(t, err, "%s.%s", v, name)
			_, err = presence(v, name)
			assert.NoError(t, err, "has(%s.%s)", v, name)
		}
	}
}
