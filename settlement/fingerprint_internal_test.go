package settlement

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/money"
)

// fingerprintRef is the fingerprint as first written (a streaming hash of
// StringFixed and strconv text): stored orders carry it, so fingerprint
// must keep giving the same value for the same request.
func fingerprintRef(req *CreateRequest) string {
	h := sha256.New()
	w := func(ss ...string) {
		for _, s := range ss {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	w(req.UserID, req.Channel, req.Cart.Currency.Code(), req.Cart.Shipping.StringFixed(), req.Cart.ShippingMerchant)
	for _, l := range req.Cart.Lines {
		w(l.ID, l.SKU, l.Category, l.Merchant, l.UnitPrice.StringFixed(), strconv.Itoa(l.Quantity))
	}
	for _, o := range req.Offers {
		w(o.ID, o.CouponID, o.TemplateID, strconv.FormatInt(o.Version, 10))
	}
	for _, g := range req.GiftCards {
		w(g.Account, g.Amount.StringFixed())
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// The one-buffer fingerprint equals the reference for any request: long
// and short, amounts with more decimals than their currency, no shipping
// fee (the zero Amount).
func TestFingerprintMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		scale := rapid.Int32Range(0, 4).Draw(t, "scale")
		cur, err := money.NewCurrency("XTS", scale)
		require.NoError(t, err)
		amount := func(label string) money.Amount {
			v := rapid.Int64Range(-1e12, 1e12).Draw(t, label)
			if rapid.Bool().Draw(t, label+"-odd") {
				return money.New(decimal.New(v, -scale-1), cur)
			}
			return money.FromMinor(v, cur)
		}
		req := CreateRequest{UserID: rapid.String().Draw(t, "user"), Channel: rapid.String().Draw(t, "channel"),
			Cart: Cart{Currency: cur, ShippingMerchant: rapid.String().Draw(t, "shipm")}}
		if rapid.Bool().Draw(t, "shipping") {
			req.Cart.Shipping = amount("ship")
		}
		for i := range rapid.IntRange(0, 40).Draw(t, "lines") {
			s := strconv.Itoa(i)
			req.Cart.Lines = append(req.Cart.Lines, Line{ID: rapid.String().Draw(t, "id"+s), SKU: rapid.StringN(0, 40, -1).Draw(t, "sku"+s),
				Category: "c" + s, Merchant: "m" + s, UnitPrice: amount("price" + s), Quantity: rapid.IntRange(-5, 1000).Draw(t, "qty"+s)})
		}
		for i := range rapid.IntRange(0, 4).Draw(t, "offers") {
			s := strconv.Itoa(i)
			req.Offers = append(req.Offers, Offer{ID: "coupon:" + s, CouponID: rapid.String().Draw(t, "coupon"+s), TemplateID: "t" + s,
				Version: rapid.Int64().Draw(t, "version"+s)})
		}
		for i := range rapid.IntRange(0, 2).Draw(t, "cards") {
			req.GiftCards = append(req.GiftCards, GiftCard{Account: "gc" + strconv.Itoa(i), Amount: amount("card" + strconv.Itoa(i))})
		}
		require.Equal(t, fingerprintRef(&req), fingerprint(&req))
	})
}
