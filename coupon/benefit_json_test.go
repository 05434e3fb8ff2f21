package coupon_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
)

func TestTemplateJSONRoundTrip(t *testing.T) {
	points := money.MustCurrency("POINTS", 0)
	tpl := coupon.Template{
		Tenant: tenant, ID: "t1",
		Benefit: coupon.Benefit{Kind: coupon.KindTiered, Currency: points, TierBasis: coupon.TierByQuantity,
			Tiers: []coupon.Tier{{Min: 2, Off: money.FromMinor(100, points)}, {Min: 5, Percent: decimal.RequireFromString("12.5")}}},
		Funding:  coupon.Funding{{Party: coupon.PartyPlatform, Ratio: decimal.NewFromInt(1)}},
		Validity: coupon.Validity{End: t0.Add(time.Hour)},
		Limits:   coupon.Limits{Budget: money.FromMinor(5000, points)},
	}
	b, err := json.Marshal(tpl)
	require.NoError(t, err)
	var back coupon.Template
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, points, back.Benefit.Currency)
	assert.True(t, back.Benefit.Tiers[0].Off.Equal(tpl.Benefit.Tiers[0].Off))
	assert.True(t, back.Benefit.Tiers[1].Percent.Equal(tpl.Benefit.Tiers[1].Percent))
	assert.True(t, back.Limits.Budget.Equal(tpl.Limits.Budget))
	require.NoError(t, back.Validate())

	var bn coupon.Benefit
	require.NoError(t, json.Unmarshal([]byte(`{"kind":"amount_off","currency":"JPY","amount":{"amount":"500","currency":"JPY"}}`), &bn))
	assert.Equal(t, money.JPY, bn.Currency)
	require.NoError(t, bn.Validate())
	require.ErrorIs(t, json.Unmarshal([]byte(`{"kind":"amount_off","currency":"XXXX"}`), &bn), coupon.ErrInvalidBenefit)
	require.ErrorIs(t, json.Unmarshal([]byte(`{"kind":"amount_off","currency":{"code":"USD","scale":3}}`), &bn), coupon.ErrInvalidBenefit)
}
