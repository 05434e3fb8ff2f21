package money_test

import (
	"testing"

	"github.com/rewardkit/rewardkit/money"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewCurrency(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		scale   int32
		wantErr error
	}{
		{"points", "POINTS", 0, nil},
		{"stored value", "STORED_VALUE", 2, nil},
		{"digits", "GC2024", 4, nil},
		{"two chars", "PT", 0, nil},
		{"sixteen chars", "ABCDEFGHIJKLMNOP", 18, nil},
		{"iso with its scale", "USD", 2, nil},
		{"iso with other scale", "USD", 3, money.ErrInvalidCurrency},
		{"jpy with cents", "JPY", 2, money.ErrInvalidCurrency},
		{"empty", "", 2, money.ErrInvalidCurrency},
		{"one char", "P", 0, money.ErrInvalidCurrency},
		{"seventeen chars", "ABCDEFGHIJKLMNOPQ", 0, money.ErrInvalidCurrency},
		{"lower case", "usd", 2, money.ErrInvalidCurrency},
		{"dash", "GIFT-CARD", 2, money.ErrInvalidCurrency},
		{"space", "US D", 2, money.ErrInvalidCurrency},
		{"negative scale", "POINTS", -1, money.ErrInvalidCurrency},
		{"scale too big", "POINTS", 19, money.ErrInvalidCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := money.NewCurrency(tt.code, tt.scale)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.True(t, c.IsZero())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.code, c.Code())
			assert.Equal(t, tt.scale, c.Scale())
			assert.Equal(t, tt.code, c.String())
			assert.False(t, c.IsZero())
		})
	}
}

func TestMustCurrencyPanics(t *testing.T) {
	assert.Panics(t, func() { money.MustCurrency("bad", 0) })
	assert.Equal(t, "POINTS", money.MustCurrency("POINTS", 0).Code())
}

func TestISOTable(t *testing.T) {
	want := map[string]int32{
		"USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "JPY": 0, "KRW": 0, "HKD": 2, "TWD": 2, "SGD": 2,
		"INR": 2, "IDR": 2, "THB": 2, "VND": 0, "MYR": 2, "PHP": 2, "AUD": 2, "NZD": 2, "CAD": 2,
		"CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "BRL": 2, "MXN": 2,
		"ARS": 2, "CLP": 0, "COP": 2, "ZAR": 2, "AED": 2, "SAR": 2, "TRY": 2, "RUB": 2, "ILS": 2,
		"EGP": 2, "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3,
	}
	for code, scale := range want {
		c, ok := money.ISO(code)
		require.True(t, ok, code)
		assert.Equal(t, code, c.Code())
		assert.Equal(t, scale, c.Scale(), code)
		assert.True(t, c.IsISO(), code)
	}
	for _, code := range []string{"POINTS", "usd", "", "XXX1"} {
		_, ok := money.ISO(code)
		assert.False(t, ok, code)
	}
}

func TestConvenienceCurrencies(t *testing.T) {
	for _, c := range []money.Currency{money.USD, money.EUR, money.CNY, money.JPY, money.GBP} {
		iso, ok := money.ISO(c.Code())
		require.True(t, ok)
		assert.Equal(t, iso, c, "comparable with ==")
	}
	assert.False(t, money.MustCurrency("POINTS", 0).IsISO())
	assert.True(t, money.Currency{}.IsZero())
}

func TestRegistry(t *testing.T) {
	points := money.MustCurrency("POINTS", 0)
	sv := money.MustCurrency("STORED_VALUE", 2)
	r, err := money.NewRegistry(points, sv, money.USD)
	require.NoError(t, err)

	tests := []struct {
		code    string
		want    money.Currency
		wantErr error
	}{
		{"POINTS", points, nil},
		{"STORED_VALUE", sv, nil},
		{"USD", money.USD, nil},
		{"KWD", money.MustCurrency("KWD", 3), nil},
		{"MILES", money.Currency{}, money.ErrUnknownCurrency},
		{"", money.Currency{}, money.ErrUnknownCurrency},
	}
	for _, tt := range tests {
		got, err := r.Lookup(tt.code)
		if tt.wantErr != nil {
			require.ErrorIs(t, err, tt.wantErr, tt.code)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tt.want, got)
	}

	var nilReg *money.Registry
	c, err := nilReg.Lookup("EUR")
	require.NoError(t, err)
	assert.Equal(t, money.EUR, c)
	_, err = nilReg.Lookup("POINTS")
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
}

func TestNewRegistryErrors(t *testing.T) {
	points := money.MustCurrency("POINTS", 0)
	tests := []struct {
		name   string
		custom []money.Currency
	}{
		{"duplicate", []money.Currency{points, points}},
		{"same code other scale", []money.Currency{points, money.MustCurrency("POINTS", 2)}},
		{"zero currency", []money.Currency{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := money.NewRegistry(tt.custom...)
			require.ErrorIs(t, err, money.ErrInvalidCurrency)
			assert.Nil(t, r)
		})
	}
	r, err := money.NewRegistry()
	require.NoError(t, err)
	_, err = r.Lookup("USD")
	require.NoError(t, err)
}

func TestRegistryParseAmount(t *testing.T) {
	r, err := money.NewRegistry(money.MustCurrency("POINTS", 0))
	require.NoError(t, err)

	a, err := r.ParseAmount("120", "POINTS")
	require.NoError(t, err)
	assert.Equal(t, "120 POINTS", a.String())

	a, err = r.ParseAmount("12.3", "USD")
	require.NoError(t, err)
	assert.Equal(t, "12.30 USD", a.String())

	_, err = r.ParseAmount("1.5", "POINTS")
	require.ErrorIs(t, err, money.ErrPrecision)
	_, err = r.ParseAmount("1", "MILES")
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
	_, err = r.ParseAmount("x", "USD")
	require.ErrorIs(t, err, money.ErrInvalidAmount)
}
