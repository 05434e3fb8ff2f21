package money_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/rewardkit/rewardkit/money"
	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// An Amount keeps its minor units when it can and a decimal otherwise;
// every operation must answer as plain decimal arithmetic does, on either
// form, at the edges of int64 too; and the form must be canonical, so
// that equal coefficient and exponent give field-for-field equal Amounts.
func TestAmountFormsAgreeWithDecimal(t *testing.T) {
	runProperty(t, func(rt *rapid.T) {
		c := money.USD
		if rapid.Bool().Draw(rt, "points") {
			c = money.JPY
		}
		draw := func(name string) decimal.Decimal {
			switch rapid.IntRange(0, 3).Draw(rt, name+"kind") {
			case 0: // near the int64 edges, at the currency's scale
				edge := rapid.SampledFrom([]int64{math.MaxInt64, math.MinInt64, 0}).Draw(rt, name+"edge")
				return decimal.New(edge-rapid.Int64Range(-3, 3).Draw(rt, name+"off"), -c.Scale())
			case 1: // more decimals than the currency has
				return decimal.New(rapid.Int64().Draw(rt, name+"v"), -c.Scale()-rapid.Int32Range(1, 4).Draw(rt, name+"x"))
			case 2: // fewer decimals ("5" for 5.00)
				return decimal.New(rapid.Int64Range(-1e6, 1e6).Draw(rt, name+"v"), 0)
			}
			return decimal.New(rapid.Int64().Draw(rt, name+"v"), -c.Scale())
		}
		da, db := draw("a"), draw("b")
		a, b := money.New(da, c), money.New(db, c)
		same := func(what string, got money.Amount, want decimal.Decimal) {
			if !got.Decimal().Equal(want) || got.Decimal().Exponent() != want.Exponent() || got.Currency() != c {
				rt.Fatalf("%s: got %s (exp %d), want %s (exp %d)", what, got.Decimal(), got.Decimal().Exponent(), want, want.Exponent())
			}
			if canon := money.New(want, c); !reflect.DeepEqual(got, canon) {
				rt.Fatalf("%s: %#v is not the canonical %#v", what, got, canon)
			}
		}
		same("a", a, da)
		sum, err := a.Add(b)
		if err != nil {
			rt.Fatal(err)
		}
		same("add", sum, da.Add(db))
		diff, err := a.Sub(b)
		if err != nil {
			rt.Fatal(err)
		}
		same("sub", diff, da.Sub(db))
		same("neg", a.Neg(), da.Neg())
		same("abs", a.Abs(), da.Abs())
		same("round", a.Round(money.HalfEven), da.RoundBank(c.Scale()))
		same("mul", a.Mul(decimal.New(3, -1)), da.Mul(decimal.New(3, -1)))
		if cmp, _ := a.Cmp(b); cmp != da.Cmp(db) {
			rt.Fatalf("cmp %s %s: %d", da, db, cmp)
		}
		if a.Equal(b) != da.Equal(db) || a.Sign() != da.Sign() || a.IsZero() != da.IsZero() {
			rt.Fatalf("equal/sign of %s %s", da, db)
		}
		places := max(c.Scale(), -da.Exponent())
		if got, want := a.StringFixed(), da.StringFixed(places); got != want {
			rt.Fatalf("StringFixed %s: %q, want %q", da, got, want)
		}
		if got, want := string(a.AppendFixed(nil)), a.StringFixed(); got != want {
			rt.Fatalf("AppendFixed %s: %q, want %q", da, got, want)
		}
		m, err := a.Minor()
		shifted := da.Shift(c.Scale())
		switch {
		case !shifted.IsInteger() || !shifted.BigInt().IsInt64():
			if err == nil {
				rt.Fatalf("Minor of %s: %d, want an error", da, m)
			}
		case err != nil || m != shifted.BigInt().Int64():
			rt.Fatalf("Minor of %s: %d, %v", da, m, err)
		}
		if got, err := money.Sum(c, a, b); err != nil || !got.Equal(sum) {
			rt.Fatalf("Sum: %s, %v, want %s", got, err, sum)
		}
	})
}

// The minor form makes no big.Int: arithmetic on amounts built from
// minor units allocates nothing.
func TestMinorFormAllocatesNothing(t *testing.T) {
	a, b := money.FromMinor(1999, money.USD), money.FromMinor(-250, money.USD)
	allocs := testing.AllocsPerRun(100, func() {
		s, _ := a.Add(b)
		d, _ := s.Sub(a)
		_, _ = d.Neg().Abs().Cmp(a)
		_, _ = d.Minor()
		_ = money.Zero(money.USD).IsZero()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
