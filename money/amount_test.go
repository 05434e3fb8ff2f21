package money_test

import (
	"errors"
	"math"
	"testing"

	"github.com/rewardkit/rewardkit/money"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

var (
	kwd    = money.MustCurrency("KWD", 3)
	points = money.MustCurrency("POINTS", 0)
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestConstructors(t *testing.T) {
	tests := []struct {
		name string
		a    money.Amount
		want string
	}{
		{"New keeps value", money.New(dec("12.3"), money.USD), "12.30 USD"},
		{"New keeps extra decimals", money.New(dec("0.125"), money.USD), "0.125 USD"},
		{"Zero USD", money.Zero(money.USD), "0.00 USD"},
		{"Zero JPY", money.Zero(money.JPY), "0 JPY"},
		{"Zero KWD", money.Zero(kwd), "0.000 KWD"},
		{"FromMinor USD", money.FromMinor(1230, money.USD), "12.30 USD"},
		{"FromMinor negative", money.FromMinor(-5, money.USD), "-0.05 USD"},
		{"FromMinor JPY", money.FromMinor(1230, money.JPY), "1230 JPY"},
		{"FromMinor KWD", money.FromMinor(1230, kwd), "1.230 KWD"},
		{"FromMinor points", money.FromMinor(7, points), "7 POINTS"},
		{"no currency", money.Amount{}, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.a.String())
		})
	}
	a := money.FromMinor(1230, money.USD)
	assert.True(t, a.Decimal().Equal(dec("12.3")))
	assert.Equal(t, money.USD, a.Currency())
	assert.Equal(t, "12.30", a.StringFixed())
}

func TestMinor(t *testing.T) {
	tests := []struct {
		name    string
		a       money.Amount
		want    int64
		wantErr error
	}{
		{"at scale", money.MustParse("12.30", money.USD), 1230, nil},
		{"fewer decimals", money.New(dec("12"), money.USD), 1200, nil},
		{"trailing zeros", money.New(dec("12.300"), money.USD), 1230, nil},
		{"positive exponent", money.New(decimal.New(5, 3), money.JPY), 5000, nil},
		{"negative", money.New(dec("-0.01"), money.USD), -1, nil},
		{"max int64", money.FromMinor(math.MaxInt64, money.USD), math.MaxInt64, nil},
		{"min int64", money.FromMinor(math.MinInt64, money.USD), math.MinInt64, nil},
		{"too precise", money.New(dec("12.305"), money.USD), 0, money.ErrPrecision},
		{"overflow at scale", money.New(dec("92233720368547758.08"), money.USD), 0, money.ErrOverflow},
		{"overflow off scale", money.New(dec("92233720368547758.080"), money.USD), 0, money.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.Minor()
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPredicates(t *testing.T) {
	tests := []struct {
		in                   string
		sign                 int
		zero, pos, neg, exct bool
	}{
		{"1.23", 1, false, true, false, true},
		{"-1.23", -1, false, false, true, true},
		{"0", 0, true, false, false, true},
		{"0.001", 1, false, true, false, false},
		{"-0.001", -1, false, false, true, false},
		{"1.2300", 1, false, true, false, true},
	}
	for _, tt := range tests {
		a := money.New(dec(tt.in), money.USD)
		assert.Equal(t, tt.sign, a.Sign(), tt.in)
		assert.Equal(t, tt.zero, a.IsZero(), tt.in)
		assert.Equal(t, tt.pos, a.IsPositive(), tt.in)
		assert.Equal(t, tt.neg, a.IsNegative(), tt.in)
		assert.Equal(t, tt.exct, a.IsExact(), tt.in)
	}
}

func TestArithmetic(t *testing.T) {
	a := money.MustParse("12.30", money.USD)
	b := money.MustParse("0.75", money.USD)

	sum, err := a.Add(b)
	require.NoError(t, err)
	assert.Equal(t, "13.05 USD", sum.String())

	diff, err := b.Sub(a)
	require.NoError(t, err)
	assert.Equal(t, "-11.55 USD", diff.String())

	c, err := a.Cmp(b)
	require.NoError(t, err)
	assert.Equal(t, 1, c)
	c, err = b.Cmp(a)
	require.NoError(t, err)
	assert.Equal(t, -1, c)
	c, err = a.Cmp(money.New(dec("12.3"), money.USD))
	require.NoError(t, err)
	assert.Equal(t, 0, c)

	assert.Equal(t, "-12.30 USD", a.Neg().String())
	assert.Equal(t, "12.30 USD", a.Neg().Abs().String())
	assert.Equal(t, "12.30 USD", a.Abs().String())

	assert.True(t, a.Equal(money.New(dec("12.3000"), money.USD)))
	assert.False(t, a.Equal(b))
	assert.False(t, a.Equal(money.MustParse("12.30", money.EUR)), "other currency")

	lo, err := money.Min(a, b)
	require.NoError(t, err)
	assert.True(t, lo.Equal(b))
	hi, err := money.Max(a, b)
	require.NoError(t, err)
	assert.True(t, hi.Equal(a))
	lo, err = money.Min(b, a)
	require.NoError(t, err)
	assert.True(t, lo.Equal(b))
	hi, err = money.Max(b, a)
	require.NoError(t, err)
	assert.True(t, hi.Equal(a))

	total, err := money.Sum(money.USD, a, b, b.Neg(), money.FromMinor(1, money.USD))
	require.NoError(t, err)
	assert.Equal(t, "12.31 USD", total.String())
	empty, err := money.Sum(money.JPY)
	require.NoError(t, err)
	assert.Equal(t, "0 JPY", empty.String())
}

func TestCurrencyMismatch(t *testing.T) {
	usd := money.MustParse("1.00", money.USD)
	eur := money.MustParse("1.00", money.EUR)
	ops := map[string]func() error{
		"add": func() error { _, err := usd.Add(eur); return err },
		"sub": func() error { _, err := usd.Sub(eur); return err },
		"cmp": func() error { _, err := usd.Cmp(eur); return err },
		"min": func() error { _, err := money.Min(usd, eur); return err },
		"max": func() error { _, err := money.Max(usd, eur); return err },
		"sum": func() error { _, err := money.Sum(money.USD, usd, eur); return err },
	}
	for op, f := range ops {
		t.Run(op, func(t *testing.T) {
			err := f()
			require.ErrorIs(t, err, money.ErrCurrencyMismatch)
			var me *money.MismatchError
			require.True(t, errors.As(err, &me))
			assert.Equal(t, op, me.Op)
			assert.Contains(t, err.Error(), "USD")
			assert.Contains(t, err.Error(), "EUR")
		})
	}
	_, err := usd.Add(money.Amount{})
	require.ErrorIs(t, err, money.ErrCurrencyMismatch)
	assert.Contains(t, err.Error(), "<none>")

	// Same code, other scale: still a mismatch, and the message shows both scales.
	_, err = money.FromMinor(1, points).Add(money.FromMinor(1, money.MustCurrency("POINTS", 2)))
	require.ErrorIs(t, err, money.ErrCurrencyMismatch)
	assert.Contains(t, err.Error(), "POINTS/0 vs POINTS/2")
}

func TestRounding(t *testing.T) {
	// value, then expected at scale 2 for HalfUp, HalfEven, Down, Up, Floor, Ceiling.
	tests := []struct {
		in   string
		want [6]string
	}{
		{"1.005", [6]string{"1.01", "1.00", "1.00", "1.01", "1.00", "1.01"}},
		{"1.015", [6]string{"1.02", "1.02", "1.01", "1.02", "1.01", "1.02"}},
		{"-1.005", [6]string{"-1.01", "-1.00", "-1.00", "-1.01", "-1.01", "-1.00"}},
		{"2.3449", [6]string{"2.34", "2.34", "2.34", "2.35", "2.34", "2.35"}},
		{"-2.3451", [6]string{"-2.35", "-2.35", "-2.34", "-2.35", "-2.35", "-2.34"}},
		{"7.1", [6]string{"7.10", "7.10", "7.10", "7.10", "7.10", "7.10"}},
		{"0.001", [6]string{"0.00", "0.00", "0.00", "0.01", "0.00", "0.01"}},
	}
	modes := []money.RoundingMode{money.HalfUp, money.HalfEven, money.Down, money.Up, money.Floor, money.Ceiling}
	for _, tt := range tests {
		for i, m := range modes {
			got := money.New(dec(tt.in), money.USD).Round(m)
			assert.Equal(t, tt.want[i], got.StringFixed(), "%s %v", tt.in, m)
			assert.True(t, got.IsExact())
		}
	}
}

func TestRoundTo(t *testing.T) {
	a := money.New(dec("1234.5678"), money.USD)
	assert.Equal(t, "1234.568 USD", a.RoundTo(3, money.HalfUp).String())
	assert.Equal(t, "1235.00 USD", a.RoundTo(0, money.HalfUp).String())
	assert.Equal(t, "1200.00 USD", a.RoundTo(-2, money.Down).String())
	assert.Equal(t, "1300.00 USD", a.RoundTo(-2, money.Ceiling).String())
	assert.Equal(t, "2 JPY", money.New(dec("2.5"), money.JPY).Round(money.HalfEven).String())
	assert.Equal(t, "4 JPY", money.New(dec("3.5"), money.JPY).Round(money.HalfEven).String())
}

func TestRoundingModeString(t *testing.T) {
	names := map[money.RoundingMode]string{
		money.HalfUp: "HalfUp", money.HalfEven: "HalfEven", money.Down: "Down",
		money.Up: "Up", money.Floor: "Floor", money.Ceiling: "Ceiling",
	}
	for m, name := range names {
		assert.Equal(t, name, m.String())
		assert.True(t, m.Valid())
	}
	bad := money.RoundingMode(42)
	assert.False(t, bad.Valid())
	assert.Equal(t, "RoundingMode(42)", bad.String())
	assert.Panics(t, func() { money.FromMinor(1, money.USD).Round(bad) })
}

func TestMul(t *testing.T) {
	price := money.MustParse("19.99", money.USD)
	exact := price.Mul(dec("0.15"))
	assert.Equal(t, "2.9985 USD", exact.String())
	assert.False(t, exact.IsExact())
	assert.Equal(t, "3.00 USD", price.MulRound(dec("0.15"), money.HalfUp).String())
	assert.Equal(t, "2.99 USD", price.MulRound(dec("0.15"), money.Down).String())
	assert.Equal(t, "59.97 USD", price.MulRound(decimal.NewFromInt(3), money.HalfEven).String())
	assert.Equal(t, "20.00 USD", price.Round(money.HalfUp).RoundTo(0, money.HalfUp).String())
}

func TestAppendFixed(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		scale int
		want  string
	}{
		{1230, 2, "12.30"}, {-5, 2, "-0.05"}, {0, 2, "0.00"}, {7, 0, "7"}, {-7, 0, "-7"},
		{100, 2, "1.00"}, {5, 3, "0.005"}, {math.MinInt64, 2, "-92233720368547758.08"},
		{math.MaxInt64, 18, "9.223372036854775807"},
	} {
		assert.Equal(t, tc.want, string(money.AppendMinor([]byte("x"), tc.minor, tc.scale))[1:], "%d at scale %d", tc.minor, tc.scale)
	}
	// AppendFixed writes what StringFixed writes, whether the amount sits
	// at its currency's scale or carries more decimals.
	runProperty(t, func(t *rapid.T) {
		c := money.MustCurrency("XTS", rapid.Int32Range(0, 6).Draw(t, "scale"))
		a := money.FromMinor(rapid.Int64().Draw(t, "units"), c)
		if rapid.Bool().Draw(t, "loose") {
			a = money.New(decimal.New(rapid.Int64().Draw(t, "coef"), rapid.Int32Range(-9, 3).Draw(t, "exp")), c)
		}
		require.Equal(t, a.StringFixed(), string(a.AppendFixed(nil)))
	})
}
