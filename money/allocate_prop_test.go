package money_test

import (
	"math"
	"math/big"
	"sync/atomic"
	"testing"

	"github.com/rewardkit/rewardkit/money"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// runProperty runs prop through rapid and, when TestMain chose the number of checks,
// asserts that at least minPropertyCases random cases ran.
func runProperty(t *testing.T, prop func(*rapid.T)) {
	t.Helper()
	var n atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		n.Add(1)
		prop(rt)
	})
	t.Logf("%d random cases", n.Load())
	if rapidChecksDefaulted && !testing.Short() {
		require.GreaterOrEqual(t, n.Load(), int64(minPropertyCases))
	}
}

// checkParts asserts the allocation invariants on minor units: the parts sum to total,
// each lies within one unit of its exact share total*w/W (on the side of zero), parts of
// a non-negative total are non-negative, and zero weights get zero.
func checkParts(t *rapid.T, total *big.Int, weights []*big.Int, parts []*big.Int) {
	if len(parts) != len(weights) {
		t.Fatalf("got %d parts for %d weights", len(parts), len(weights))
	}
	sumW := new(big.Int)
	for _, w := range weights {
		sumW.Add(sumW, w)
	}
	sumP := new(big.Int)
	for i, p := range parts {
		sumP.Add(sumP, p)
		if weights[i].Sign() == 0 && p.Sign() != 0 {
			t.Fatalf("zero weight %d got %s", i, p)
		}
		if total.Sign() >= 0 && p.Sign() < 0 {
			t.Fatalf("part %d negative (%s) for total %s", i, p, total)
		}
		// |p*W - total*w| < W
		diff := new(big.Int).Mul(p, sumW)
		diff.Sub(diff, new(big.Int).Mul(total, weights[i]))
		if diff.CmpAbs(sumW) >= 0 {
			t.Fatalf("part %d = %s is not within one unit of %s*%s/%s", i, p, total, weights[i], sumW)
		}
	}
	if sumP.Cmp(total) != 0 {
		t.Fatalf("parts sum to %s, want %s", sumP, total)
	}
}

func weightGen(large bool) *rapid.Generator[int64] {
	if large {
		return rapid.Int64Range(0, math.MaxInt64/64)
	}
	return rapid.Int64Range(0, 20)
}

func TestPropertyAllocateMinor(t *testing.T) {
	runProperty(t, func(rt *rapid.T) {
		total := rapid.OneOf(
			rapid.Int64(),
			rapid.Int64Range(-1000, 1000),
			rapid.SampledFrom([]int64{math.MaxInt64, math.MinInt64, math.MinInt64 + 1, 0, 1, -1}),
		).Draw(rt, "total")
		large := rapid.Bool().Draw(rt, "large")
		weights := rapid.SliceOfN(weightGen(large), 1, 40).Draw(rt, "weights")
		if allZero(weights) {
			weights[rapid.IntRange(0, len(weights)-1).Draw(rt, "nonzero")] = 1
		}
		parts, err := money.AllocateMinor(total, weights)
		require.NoError(rt, err)
		checkParts(rt, big.NewInt(total), bigs(weights), bigs(parts))

		again, err := money.AllocateMinor(total, weights)
		require.NoError(rt, err)
		require.Equal(rt, parts, again, "deterministic")

		if total != math.MinInt64 {
			mirror, err := money.AllocateMinor(-total, weights)
			require.NoError(rt, err)
			for i := range parts {
				require.Equal(rt, -parts[i], mirror[i], "mirrored")
			}
		}
	})
}

func TestPropertyAllocate(t *testing.T) {
	runProperty(t, func(rt *rapid.T) {
		scale := rapid.Int32Range(0, 6).Draw(rt, "scale")
		cur := money.MustCurrency("TEST", scale)
		units := big.NewInt(rapid.Int64().Draw(rt, "units"))
		if rapid.Bool().Draw(rt, "huge") { // totals beyond int64 take the big path
			units.Mul(units, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))
			units.Add(units, big.NewInt(rapid.Int64Range(-999, 999).Draw(rt, "low")))
		}
		total := money.New(decimal.NewFromBigInt(units, -scale), cur)

		n := rapid.IntRange(1, 30).Draw(rt, "n")
		weights := make([]decimal.Decimal, n)
		for i := range weights {
			weights[i] = decimal.New(
				rapid.Int64Range(0, 1_000_000_000).Draw(rt, "coef"),
				rapid.Int32Range(-8, 4).Draw(rt, "exp"))
		}
		if allZeroDec(weights) {
			weights[0] = decimal.New(1, rapid.Int32Range(-8, 4).Draw(rt, "exp0"))
		}

		parts, err := money.Allocate(total, weights)
		require.NoError(rt, err)
		partUnits := make([]*big.Int, n)
		for i, p := range parts {
			require.Equal(rt, cur, p.Currency())
			require.True(rt, p.IsExact())
			partUnits[i] = p.Decimal().Shift(scale).BigInt()
		}
		checkParts(rt, units, weightInts(weights), partUnits)

		again, err := money.Allocate(total, weights)
		require.NoError(rt, err)
		for i := range parts {
			require.True(rt, parts[i].Equal(again[i]), "deterministic")
		}
	})
}

// TestPropertyAllocateAgreesWithMinor: on integer weights and an int64 total, the
// decimal API and the integer fast path give the same parts.
func TestPropertyAllocateAgreesWithMinor(t *testing.T) {
	runProperty(t, func(rt *rapid.T) {
		total := rapid.Int64().Draw(rt, "total")
		weights := rapid.SliceOfN(weightGen(rapid.Bool().Draw(rt, "large")), 1, 20).Draw(rt, "weights")
		if allZero(weights) {
			weights[0] = 7
		}
		// Scaling every weight by a common power of ten must not change the result.
		exp := rapid.Int32Range(-6, 6).Draw(rt, "exp")
		dw := make([]decimal.Decimal, len(weights))
		for i, w := range weights {
			dw[i] = decimal.New(w, exp)
		}
		want, err := money.AllocateMinor(total, weights)
		require.NoError(rt, err)
		got, err := money.Allocate(money.FromMinor(total, money.USD), dw)
		require.NoError(rt, err)
		for i := range want {
			m, err := got[i].Minor()
			require.NoError(rt, err)
			require.Equal(rt, want[i], m, "part %d", i)
		}
	})
}

func TestPropertySplit(t *testing.T) {
	runProperty(t, func(rt *rapid.T) {
		scale := rapid.Int32Range(0, 4).Draw(rt, "scale")
		cur := money.MustCurrency("TEST", scale)
		units := rapid.OneOf(rapid.Int64Range(-1_000_000, 1_000_000), rapid.Int64()).Draw(rt, "units")
		total := money.FromMinor(units, cur)

		// n ratios of p decimal places that sum to exactly 1.
		p := rapid.Int32Range(0, 6).Draw(rt, "places")
		one := int64(math.Pow10(int(p)))
		n := rapid.IntRange(1, 12).Draw(rt, "n")
		ks := make([]int64, n)
		left := one
		for i := 0; i < n-1; i++ {
			ks[i] = rapid.Int64Range(0, left).Draw(rt, "k")
			left -= ks[i]
		}
		ks[n-1] = left
		ratios := make([]decimal.Decimal, n)
		for i, k := range ks {
			ratios[i] = decimal.New(k, -p)
		}

		parts, err := money.Split(total, ratios)
		require.NoError(rt, err)
		partUnits := make([]*big.Int, n)
		for i, part := range parts {
			m, err := part.Minor()
			require.NoError(rt, err)
			partUnits[i] = big.NewInt(m)
		}
		checkParts(rt, big.NewInt(units), bigs(ks), partUnits)

		again, err := money.Split(total, ratios)
		require.NoError(rt, err)
		for i := range parts {
			require.True(rt, parts[i].Equal(again[i]), "deterministic")
		}
	})
}

func allZero(ws []int64) bool {
	for _, w := range ws {
		if w != 0 {
			return false
		}
	}
	return true
}

func allZeroDec(ws []decimal.Decimal) bool {
	for _, w := range ws {
		if !w.IsZero() {
			return false
		}
	}
	return true
}

func bigs(xs []int64) []*big.Int {
	out := make([]*big.Int, len(xs))
	for i, x := range xs {
		out[i] = big.NewInt(x)
	}
	return out
}

// weightInts scales decimal weights to integers at their smallest common exponent.
func weightInts(ws []decimal.Decimal) []*big.Int {
	minExp := int32(0)
	for _, w := range ws {
		minExp = min(minExp, w.Exponent())
	}
	out := make([]*big.Int, len(ws))
	for i, w := range ws {
		out[i] = w.Shift(-minExp).BigInt()
	}
	return out
}

// AllocateMinorInto writes exactly AllocateMinor's parts, fails with its
// errors, and leaves dst as it was when it fails.
func TestPropertyAllocateMinorInto(t *testing.T) {
	runProperty(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 40).Draw(rt, "n")
		hi := rapid.SampledFrom([]int64{3, 1000, 1 << 40, math.MaxInt64 / 70, math.MaxInt64}).Draw(rt, "hi")
		w := make([]int64, n)
		for i := range w {
			w[i] = rapid.Int64Range(0, hi).Draw(rt, "w")
		}
		if n > 0 && rapid.IntRange(0, 20).Draw(rt, "neg") == 0 {
			w[rapid.IntRange(0, n-1).Draw(rt, "at")] = -1
		}
		total := rapid.Int64Range(math.MinInt64, math.MaxInt64).Draw(rt, "total")
		want, wantErr := money.AllocateMinor(total, w)
		got := make([]int64, n)
		for i := range got {
			got[i] = -7
		}
		err := money.AllocateMinorInto(got, total, w)
		if wantErr != nil {
			require.EqualError(rt, err, wantErr.Error())
			for _, v := range got {
				require.Equal(rt, int64(-7), v, "dst untouched on error")
			}
			return
		}
		require.NoError(rt, err)
		require.Equal(rt, want, got)
	})
}
