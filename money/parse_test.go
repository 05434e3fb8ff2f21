package money_test

import (
	"strings"
	"testing"

	"github.com/rewardkit/rewardkit/money"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		cur     money.Currency
		want    string
		wantErr error
	}{
		{"12.30", money.USD, "12.30 USD", nil},
		{"12.3", money.USD, "12.30 USD", nil},
		{"12", money.USD, "12.00 USD", nil},
		{"-5", money.USD, "-5.00 USD", nil},
		{"-0", money.USD, "0.00 USD", nil},
		{"0.01", money.USD, "0.01 USD", nil},
		{"007.50", money.USD, "7.50 USD", nil},
		{"12.300", money.USD, "12.30 USD", nil},
		{"1000", money.JPY, "1000 JPY", nil},
		{"1000.000", money.JPY, "1000 JPY", nil},
		{"1.234", kwd, "1.234 KWD", nil},
		{"123456789012345678901234567890.12", money.USD, "123456789012345678901234567890.12 USD", nil},
		{"-99999999999999999.99", money.USD, "-99999999999999999.99 USD", nil},
		{"12.305", money.USD, "", money.ErrPrecision},
		{"0.001", money.USD, "", money.ErrPrecision},
		{"1.5", money.JPY, "", money.ErrPrecision},
		{"1.2345", kwd, "", money.ErrPrecision},
		{"", money.USD, "", money.ErrInvalidAmount},
		{"-", money.USD, "", money.ErrInvalidAmount},
		{"+5", money.USD, "", money.ErrInvalidAmount},
		{"1e2", money.USD, "", money.ErrInvalidAmount},
		{"1E2", money.USD, "", money.ErrInvalidAmount},
		{".5", money.USD, "", money.ErrInvalidAmount},
		{"5.", money.USD, "", money.ErrInvalidAmount},
		{"1.2.3", money.USD, "", money.ErrInvalidAmount},
		{" 1", money.USD, "", money.ErrInvalidAmount},
		{"1,000.00", money.USD, "", money.ErrInvalidAmount},
		{"--1", money.USD, "", money.ErrInvalidAmount},
		{"\u22121", money.USD, "", money.ErrInvalidAmount},
		{"NaN", money.USD, "", money.ErrInvalidAmount},
		{"0x10", money.USD, "", money.ErrInvalidAmount},
		{strings.Repeat("9", 64) + "." + strings.Repeat("0", 64), money.USD, strings.Repeat("9", 64) + ".00 USD", nil},
		{strings.Repeat("9", 65), money.USD, "", money.ErrInvalidAmount},
		{"1." + strings.Repeat("0", 65), money.USD, "", money.ErrInvalidAmount},
		{strings.Repeat("9", 200), money.USD, "", money.ErrInvalidAmount},
		{"1", money.Currency{}, "", money.ErrInvalidCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := money.Parse(tt.in, tt.cur)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, money.Amount{}, a)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, a.String())
			assert.True(t, a.IsExact())
			assert.Equal(t, -tt.cur.Scale(), a.Decimal().Exponent(), "result sits at the currency scale")
		})
	}
}

func TestParseLoose(t *testing.T) {
	tests := []struct {
		in      string
		cur     money.Currency
		want    string
		wantErr error
	}{
		{"0.0125", money.USD, "0.0125 USD", nil},
		{"12.3", money.USD, "12.30 USD", nil},
		{"1.5", money.JPY, "1.5 JPY", nil},
		{"-0.00000000000000000000001", money.USD, "-0.00000000000000000000001 USD", nil},
		{"1e-2", money.USD, "", money.ErrInvalidAmount},
		{"abc", money.USD, "", money.ErrInvalidAmount},
		{"1", money.Currency{}, "", money.ErrInvalidCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := money.ParseLoose(tt.in, tt.cur)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, a.String())
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	assert.Panics(t, func() { money.MustParse("1.001", money.USD) })
	assert.Equal(t, "1.00 USD", money.MustParse("1", money.USD).String())
}

// FuzzParse checks that Parse never panics, that whatever it accepts prints in a form
// it accepts again with the same value, and that ParseLoose agrees with Parse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"12.30", "-5", "0", "0.001", "1e2", "", "-", ".5", "5.",
		"123456789012345678901234567890.123", "-0.00", "99999999999999999.99", "\u22121", "1.2.3"} {
		f.Add(s)
	}
	curs := []money.Currency{money.USD, money.JPY, kwd, money.MustCurrency("MICRO", 18)}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range curs {
			a, err := money.Parse(s, c)
			loose, lerr := money.ParseLoose(s, c)
			if err != nil {
				require.Equal(t, money.Amount{}, a)
				if lerr == nil {
					require.ErrorIs(t, err, money.ErrPrecision, "loose accepts %q only when strict fails on precision", s)
				}
				continue
			}
			require.NoError(t, lerr)
			require.True(t, a.Equal(loose), "%q: strict %s, loose %s", s, a, loose)
			require.True(t, a.IsExact())

			again, err := money.Parse(a.StringFixed(), c)
			require.NoError(t, err, "reparse %q", a.StringFixed())
			require.True(t, a.Equal(again), "%q -> %s -> %s", s, a, again)
			require.Equal(t, a.String(), again.String())
			require.Equal(t, a.StringFixed()+" "+c.Code(), a.String())
		}
	})
}
