package money_test

import (
	"math"
	"testing"

	"github.com/rewardkit/rewardkit/money"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decs(ss ...string) []decimal.Decimal {
	out := make([]decimal.Decimal, len(ss))
	for i, s := range ss {
		out[i] = dec(s)
	}
	return out
}

func strs(as []money.Amount) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.StringFixed()
	}
	return out
}

func TestAllocateMinor(t *testing.T) {
	tests := []struct {
		name    string
		total   int64
		weights []int64
		want    []int64
		wantErr error
	}{
		{"thirds", 100, []int64{1, 1, 1}, []int64{34, 33, 33}, nil},
		{"ties to lower index", 2, []int64{1, 1, 1}, []int64{1, 1, 0}, nil},
		{"largest remainder wins", 10, []int64{1, 2, 4}, []int64{1, 3, 6}, nil},
		{"zero weight gets zero", 7, []int64{0, 1, 0, 1}, []int64{0, 4, 0, 3}, nil},
		{"single", 99, []int64{5}, []int64{99}, nil},
		{"zero total", 0, []int64{1, 2}, []int64{0, 0}, nil},
		{"negative mirrored", -100, []int64{1, 1, 1}, []int64{-34, -33, -33}, nil},
		{"negative ties", -2, []int64{1, 1, 1}, []int64{-1, -1, 0}, nil},
		{"max total", math.MaxInt64, []int64{1, 1}, []int64{math.MaxInt64/2 + 1, math.MaxInt64 / 2}, nil},
		{"min total", math.MinInt64, []int64{1, 1}, []int64{math.MinInt64 / 2, math.MinInt64 / 2}, nil},
		{"min total one part", math.MinInt64, []int64{3}, []int64{math.MinInt64}, nil},
		{"huge weights", 1000, []int64{math.MaxInt64, math.MaxInt64}, []int64{500, 500}, nil},
		{"huge product", math.MaxInt64, []int64{math.MaxInt64 - 1, 1}, []int64{math.MaxInt64 - 1, 1}, nil},
		{"empty", 10, nil, nil, money.ErrInvalidWeights},
		{"all zero", 10, []int64{0, 0}, nil, money.ErrInvalidWeights},
		{"negative weight", 10, []int64{3, -1}, nil, money.ErrInvalidWeights},
		{"weights overflow", 10, []int64{math.MaxInt64, math.MaxInt64, math.MaxInt64}, nil, money.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := money.AllocateMinor(tt.total, tt.weights)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAllocateMinorManyParts(t *testing.T) {
	// More parts than the stack scratch space: the sorting path.
	w := make([]int64, 100)
	for i := range w {
		w[i] = 1
	}
	got, err := money.AllocateMinor(1050, w)
	require.NoError(t, err)
	var sum int64
	for i, p := range got {
		want := int64(10)
		if i < 50 {
			want = 11
		}
		assert.Equal(t, want, p, "part %d", i)
		sum += p
	}
	assert.Equal(t, int64(1050), sum)
}

func TestAllocate(t *testing.T) {
	big := money.MustParse("123456789012345678901234567890.01", money.USD)
	tests := []struct {
		name    string
		total   money.Amount
		weights []decimal.Decimal
		want    []string
		wantErr error
	}{
		{"thirds", money.MustParse("100", money.USD), decs("1", "1", "1"), []string{"33.34", "33.33", "33.33"}, nil},
		{"decimal weights", money.MustParse("10.00", money.USD), decs("0.5", "0.25", "0.25"), []string{"5.00", "2.50", "2.50"}, nil},
		{"mixed exponents", money.MustParse("1.00", money.USD), decs("1", "0.5", "2.25"), []string{"0.27", "0.13", "0.60"}, nil},
		{"amount weights", money.MustParse("5", money.USD), decs("19.99", "5.01", "0"), []string{"4.00", "1.00", "0.00"}, nil},
		{"jpy", money.MustParse("100", money.JPY), decs("1", "1", "1"), []string{"34", "33", "33"}, nil},
		{"kwd", money.MustParse("1", kwd), decs("1", "2"), []string{"0.333", "0.667"}, nil},
		{"negative mirrored", money.MustParse("-100", money.USD), decs("1", "1", "1"), []string{"-33.34", "-33.33", "-33.33"}, nil},
		{"zero total", money.Zero(money.USD), decs("1", "2"), []string{"0.00", "0.00"}, nil},
		{"trailing zeros are exact", money.New(dec("1.000"), money.USD), decs("1", "1"), []string{"0.50", "0.50"}, nil},
		{"big total", big, decs("1", "1"), []string{"61728394506172839450617283945.01", "61728394506172839450617283945.00"}, nil},
		{"huge weights", money.MustParse("1", money.USD), decs("1e30", "3e30"), []string{"0.25", "0.75"}, nil},
		{"tiny weights", money.MustParse("1", money.USD), decs("1e-30", "1e-30", "1e-30"), []string{"0.34", "0.33", "0.33"}, nil},
		{"inexact total", money.New(dec("1.005"), money.USD), decs("1"), nil, money.ErrPrecision},
		{"empty", money.MustParse("1", money.USD), nil, nil, money.ErrInvalidWeights},
		{"all zero", money.MustParse("1", money.USD), decs("0", "0.00"), nil, money.ErrInvalidWeights},
		{"negative weight", money.MustParse("1", money.USD), decs("1", "-0.5"), nil, money.ErrInvalidWeights},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := money.Allocate(tt.total, tt.weights)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, strs(got))
			sum, err := money.Sum(tt.total.Currency(), got...)
			require.NoError(t, err)
			assert.True(t, sum.Equal(tt.total), "parts sum %s, total %s", sum, tt.total)
			for _, p := range got {
				assert.Equal(t, tt.total.Currency(), p.Currency())
				assert.True(t, p.IsExact())
			}
		})
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name    string
		total   money.Amount
		ratios  []decimal.Decimal
		want    []string
		wantErr error
	}{
		{"platform merchant agent", money.MustParse("99.99", money.USD), decs("0.10", "0.85", "0.05"), []string{"10.00", "84.99", "5.00"}, nil},
		{"halves of odd cents", money.MustParse("0.03", money.USD), decs("0.5", "0.5"), []string{"0.02", "0.01"}, nil},
		{"zero ratio", money.MustParse("10", money.JPY), decs("0", "1"), []string{"0", "10"}, nil},
		{"negative total", money.MustParse("-0.03", money.USD), decs("0.5", "0.5"), []string{"-0.02", "-0.01"}, nil},
		{"sum below one", money.MustParse("1", money.USD), decs("0.5", "0.49"), nil, money.ErrInvalidRatios},
		{"sum above one", money.MustParse("1", money.USD), decs("0.5", "0.51"), nil, money.ErrInvalidRatios},
		{"negative ratio", money.MustParse("1", money.USD), decs("1.5", "-0.5"), nil, money.ErrInvalidRatios},
		{"empty", money.MustParse("1", money.USD), nil, nil, money.ErrInvalidRatios},
		{"inexact total", money.New(dec("0.001"), money.USD), decs("1"), nil, money.ErrPrecision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := money.Split(tt.total, tt.ratios)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, strs(got))
		})
	}
}

func TestAllocateMinorIntoWrongLength(t *testing.T) {
	dst := []int64{9}
	err := money.AllocateMinorInto(dst, 10, []int64{1, 1})
	require.ErrorIs(t, err, money.ErrInvalidWeights)
	require.Equal(t, []int64{9}, dst)
}
