package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

func TestCouponByCode(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tpl := tenOff("t1")
	tpl.Limits = coupon.Limits{Stock: 5}
	f.create(t, tpl)
	codes, err := f.svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: tenant, TemplateID: "t1", Count: 2, Length: 8})
	require.NoError(t, err)
	redeemed, err := f.svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: tenant, Code: codes[0], UserID: "u1"})
	require.NoError(t, err)

	typo := []byte(codes[1])
	typo[2] = coupon.CodeAlphabet[(strings.IndexByte(coupon.CodeAlphabet, typo[2])+5)%len(coupon.CodeAlphabet)]
	gen, err := coupon.NewCodeGenerator(8)
	require.NoError(t, err)

	cases := []struct {
		name  string
		code  string
		state coupon.State
		err   error
	}{
		{"redeemed, as typed", strings.ToLower(coupon.FormatCode(codes[0])), coupon.StateActivated, nil},
		{"not yet redeemed", codes[1], coupon.StateUnactivated, nil},
		{"typo", string(typo), "", coupon.ErrBadCheckCharacter},
		{"malformed", "7XK9-B2T0", "", coupon.ErrMalformedCode},
		{"empty", "", "", coupon.ErrMalformedCode},
		{"unknown", gen.Next(), "", coupon.ErrUnknownCode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.svc.CouponByCode(ctx, tenant, tc.code)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				if tc.err == coupon.ErrBadCheckCharacter {
					assert.NotErrorIs(t, err, coupon.ErrUnknownCode)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.state, c.State)
			assert.Equal(t, strings.ToUpper(strings.ReplaceAll(tc.code, "-", "")), c.Code)
		})
	}
	c, err := f.svc.CouponByCode(ctx, tenant, codes[0])
	require.NoError(t, err)
	assert.Equal(t, redeemed.ID, c.ID)
	_, err = f.svc.CouponByCode(ctx, storage.TenantID(""), codes[0])
	require.ErrorIs(t, err, storage.ErrInvalidTenant)
}

// A support agent looks a printed code up, as typed.
func ExampleService_CouponByCode() {
	ctx := context.Background()
	svc, _ := newExampleService()
	_, err := svc.CreateTemplate(ctx, coupon.Template{
		Tenant: "shop", ID: "gift10",
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: money.MustParse("10", money.USD)},
		Validity: coupon.Validity{Days: 30},
		Limits:   coupon.Limits{Stock: 10},
	})
	if err != nil {
		panic(err)
	}
	codes, err := svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: "shop", TemplateID: "gift10", Count: 1, Length: 8})
	if err != nil {
		panic(err)
	}
	c, err := svc.CouponByCode(ctx, "shop", strings.ToLower(coupon.FormatCode(codes[0])))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.TemplateID, c.State)
	_, err = svc.CouponByCode(ctx, "shop", "7XK9-B2T0")
	fmt.Println(errors.Is(err, coupon.ErrMalformedCode))
	// Output:
	// gift10 UNACTIVATED
	// true
}
