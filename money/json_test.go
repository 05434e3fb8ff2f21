package money_test

import (
	"encoding/json"
	"testing"

	"github.com/rewardkit/rewardkit/money"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		a    money.Amount
		want string
	}{
		{"usd", money.MustParse("12.3", money.USD), `{"amount":"12.30","currency":"USD"}`},
		{"negative", money.MustParse("-0.05", money.USD), `{"amount":"-0.05","currency":"USD"}`},
		{"jpy", money.MustParse("1000", money.JPY), `{"amount":"1000","currency":"JPY"}`},
		{"kwd", money.MustParse("1.5", kwd), `{"amount":"1.500","currency":"KWD"}`},
		{"custom asset", money.FromMinor(120, points), `{"amount":"120","currency":"POINTS","scale":0}`},
		{"custom scale 2", money.FromMinor(1, money.MustCurrency("STORED_VALUE", 2)), `{"amount":"0.01","currency":"STORED_VALUE","scale":2}`},
		{"inexact keeps digits", money.New(dec("0.0125"), money.USD), `{"amount":"0.0125","currency":"USD"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.a)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(b))

			var back money.Amount
			require.NoError(t, json.Unmarshal(b, &back))
			assert.True(t, tt.a.Equal(back), "%s != %s", tt.a, back)
			assert.Equal(t, tt.a.String(), back.String())
		})
	}
	_, err := json.Marshal(money.Amount{})
	require.ErrorIs(t, err, money.ErrInvalidCurrency)
}

func TestJSONInStruct(t *testing.T) {
	type line struct {
		SKU   string        `json:"sku"`
		Price money.Amount  `json:"price"`
		Bonus *money.Amount `json:"bonus,omitempty"`
	}
	bonus := money.FromMinor(50, points)
	in := line{SKU: "A1", Price: money.MustParse("9.99", money.EUR), Bonus: &bonus}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var out line
	require.NoError(t, json.Unmarshal(b, &out))
	assert.True(t, in.Price.Equal(out.Price))
	require.NotNil(t, out.Bonus)
	assert.True(t, bonus.Equal(*out.Bonus))

	// null leaves the value alone.
	keep := money.MustParse("1", money.USD)
	require.NoError(t, json.Unmarshal([]byte(`null`), &keep))
	assert.Equal(t, "1.00 USD", keep.String())
}

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{"string", `{"amount":"12.30","currency":"USD"}`, "12.30 USD", nil},
		{"short string", `{"amount":"12.3","currency":"USD"}`, "12.30 USD", nil},
		{"exact number", `{"amount":12.30,"currency":"USD"}`, "12.30 USD", nil},
		{"big exact number", `{"amount":12345678901234567890.01,"currency":"USD"}`, "12345678901234567890.01 USD", nil},
		{"negative number", `{"amount":-1,"currency":"JPY"}`, "-1 JPY", nil},
		{"extra decimals kept", `{"amount":"0.125","currency":"USD"}`, "0.125 USD", nil},
		{"iso scale given", `{"amount":"1","currency":"USD","scale":2}`, "1.00 USD", nil},
		{"custom with scale", `{"amount":"7","currency":"POINTS","scale":0}`, "7 POINTS", nil},
		{"unknown fields ignored", `{"amount":"7","currency":"EUR","note":"x"}`, "7.00 EUR", nil},
		{"custom without scale", `{"amount":"7","currency":"POINTS"}`, "", money.ErrUnknownCurrency},
		{"iso with wrong scale", `{"amount":"1","currency":"USD","scale":4}`, "", money.ErrInvalidCurrency},
		{"bad code", `{"amount":"1","currency":"usd"}`, "", money.ErrInvalidCurrency},
		{"bad scale", `{"amount":"1","currency":"POINTS","scale":19}`, "", money.ErrInvalidCurrency},
		{"missing currency", `{"amount":"1"}`, "", money.ErrInvalidCurrency},
		{"missing amount", `{"currency":"USD"}`, "", money.ErrInvalidAmount},
		{"null amount", `{"amount":null,"currency":"USD"}`, "", money.ErrInvalidAmount},
		{"exponent number", `{"amount":1e2,"currency":"USD"}`, "", money.ErrInvalidAmount},
		{"exponent string", `{"amount":"1e2","currency":"USD"}`, "", money.ErrInvalidAmount},
		{"bool amount", `{"amount":true,"currency":"USD"}`, "", money.ErrInvalidAmount},
		{"object amount", `{"amount":{},"currency":"USD"}`, "", money.ErrInvalidAmount},
		{"not an object", `"12.30 USD"`, "", money.ErrInvalidAmount},
		{"broken json", `{"amount":`, "", money.ErrInvalidAmount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := money.MustParse("42", money.GBP)
			got := before
			err := got.UnmarshalJSON([]byte(tt.in))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, before, got, "unchanged on error")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.String())
		})
	}
}

func TestRegistryUnmarshalAmount(t *testing.T) {
	r, err := money.NewRegistry(points)
	require.NoError(t, err)

	a, err := r.UnmarshalAmount([]byte(`{"amount":"120","currency":"POINTS"}`))
	require.NoError(t, err)
	assert.Equal(t, "120 POINTS", a.String())

	a, err = r.UnmarshalAmount([]byte(`{"amount":"120","currency":"POINTS","scale":0}`))
	require.NoError(t, err)
	assert.True(t, a.Equal(money.FromMinor(120, points)))

	_, err = r.UnmarshalAmount([]byte(`{"amount":"120","currency":"POINTS","scale":2}`))
	require.ErrorIs(t, err, money.ErrInvalidCurrency)
	_, err = r.UnmarshalAmount([]byte(`{"amount":"1","currency":"MILES"}`))
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
	_, err = r.UnmarshalAmount([]byte(`null`))
	require.ErrorIs(t, err, money.ErrInvalidAmount)

	// Round trip of a registered asset through the registry.
	b, err := json.Marshal(money.FromMinor(-3, points))
	require.NoError(t, err)
	back, err := r.UnmarshalAmount(b)
	require.NoError(t, err)
	assert.Equal(t, "-3 POINTS", back.String())
}

func TestAppendJSONAppendsMarshalJSON(t *testing.T) {
	for _, a := range []money.Amount{money.MustParse("12.3", money.USD), money.MustParse("-0.05", money.USD),
		money.FromMinor(120, money.MustCurrency("POINTS", 0))} {
		j, err := a.MarshalJSON()
		require.NoError(t, err)
		b, err := a.AppendJSON([]byte("x:"))
		require.NoError(t, err)
		assert.Equal(t, "x:"+string(j), string(b))
	}
	b, err := money.Amount{}.AppendJSON([]byte("x:"))
	assert.ErrorIs(t, err, money.ErrInvalidCurrency)
	assert.Equal(t, "x:", string(b))
}
