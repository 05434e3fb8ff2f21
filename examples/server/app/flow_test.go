package app

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/settlement"
)

// TestCheckoutFlow walks a member and a merchant through the API: register,
// accrue and redeem points, claim a coupon, preview and buy with it, pay,
// refund, and consume a second coupon at the cashier.
func TestCheckoutFlow(t *testing.T) {
	env := newTestEnv(t, nil)
	admin := env.as(t, tenantA, RoleAdmin, "ops")
	alice := env.as(t, tenantA, RoleMember, "alice")
	shop := env.as(t, tenantA, RoleMerchant, "10086")

	var p MemberProfile
	alice.ok("POST", "/api/v1/members", map[string]string{"email": "alice@example.com", "name": "Alice"}, &p)
	assert.Equal(t, "alice", p.MemberID)
	assert.Equal(t, "bronze", p.Tier)

	var pr PointsResult
	admin.with("Idempotency-Key", "grant-1").ok("POST", "/api/v1/members/alice/points/accrue", `{"points": 1200, "reason": "welcome"}`, &pr)
	assert.EqualValues(t, 1200, pr.Balance)
	// The same key and payload replays; nothing is posted twice.
	admin.with("Idempotency-Key", "grant-1").ok("POST", "/api/v1/members/alice/points/accrue", `{"points": 1200, "reason": "welcome"}`, &pr)
	assert.EqualValues(t, 1200, pr.Balance)
	r := admin.with("Idempotency-Key", "grant-1").do("POST", "/api/v1/members/alice/points/accrue", `{"points": 5, "reason": "welcome"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "idempotency_key_reused", r.errCode())

	alice.ok("POST", "/api/v1/members/me/points/redeem", `{"points": "200"}`, &pr)
	assert.EqualValues(t, 1000, pr.Balance)
	alice.ok("GET", "/api/v1/members/me", nil, &p)
	assert.EqualValues(t, 1000, p.Points)
	assert.EqualValues(t, 1200, p.LifetimePoints)
	assert.Equal(t, "silver", p.Tier)

	r = alice.do("POST", "/api/v1/members", map[string]string{"email": "alice@example.com", "name": "Alice"})
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "member_exists", r.errCode())

	var hist struct {
		Entries []HistoryEntry
		Tiers   []reward.TierChange
	}
	alice.ok("GET", "/api/v1/members/me/history", nil, &hist)
	require.Len(t, hist.Entries, 2)
	require.Len(t, hist.Tiers, 1, "the grant moved alice up once")
	assert.Equal(t, "bronze", hist.Tiers[0].From)
	assert.Equal(t, "silver", hist.Tiers[0].To)
	assert.Equal(t, "redemption", hist.Entries[0].Kind)
	assert.EqualValues(t, -200, hist.Entries[0].Points)

	var offers []reward.Offer
	alice.ok("GET", "/api/v1/members/me/offers", nil, &offers)
	require.Len(t, offers, 1, "the gold offer is not open to silver")
	assert.Equal(t, "treat5", offers[0].ID)
	var claimed, replay ClaimedOffer
	alice.with("Idempotency-Key", "treat-1").ok("POST", "/api/v1/members/me/offers/treat5/claim", nil, &claimed)
	assert.EqualValues(t, 500, claimed.Points)
	assert.EqualValues(t, 500, claimed.Balance)
	assert.Equal(t, coupon.StateActivated, claimed.Coupon.State)
	// A retry replays the claim: no second coupon, no second payment.
	alice.with("Idempotency-Key", "treat-1").ok("POST", "/api/v1/members/me/offers/treat5/claim", nil, &replay)
	assert.Equal(t, claimed.Coupon.ID, replay.Coupon.ID)
	r = alice.do("POST", "/api/v1/members/me/offers/gold-treat/claim", nil)
	assert.Equal(t, http.StatusNotFound, r.Status, "the gold offer is not open to silver")
	assert.Equal(t, "offer_not_found", r.errCode())

	var cp coupon.Coupon
	alice.ok("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`, &cp)
	r = alice.do("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "per_user_limit", r.errCode())

	var mine []coupon.Coupon
	alice.ok("GET", "/api/v1/coupons", nil, &mine)
	assert.Len(t, mine, 2)

	cart := map[string]any{
		"lines":      []map[string]any{{"id": "l1", "sku": "tee", "merchant": "10086", "unit_price": "40.00", "quantity": 2}, {"id": "l2", "sku": "mug", "merchant": "clay", "unit_price": 12.5, "quantity": 1}},
		"coupon_ids": []string{cp.ID},
	}
	var q QuoteView
	alice.ok("POST", "/api/v1/cart/preview", cart, &q)
	assert.Equal(t, "92.50", q.Subtotal)
	assert.Equal(t, "18.50", q.Discount)
	assert.Equal(t, "74.00", q.Total)

	var o settlement.Order
	alice.with("Idempotency-Key", "order-1").ok("POST", "/api/v1/orders", cart, &o)
	assert.Equal(t, settlement.StateCreated, o.State)
	var again settlement.Order
	alice.with("Idempotency-Key", "order-1").ok("POST", "/api/v1/orders", cart, &again)
	assert.Equal(t, o.ID, again.ID, "a retried create returns the same order")

	r = alice.do("POST", "/api/v1/orders/"+o.ID+"/pay", `{"payment_ref": "psp-1", "amount": "70.00"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Equal(t, "amount_mismatch", r.errCode())
	alice.ok("POST", "/api/v1/orders/"+o.ID+"/pay", `{"payment_ref": "psp-1", "amount": 74.00}`, &o)
	assert.Equal(t, settlement.StatePaid, o.State)

	// The merchant sees the order (it sells line l1) and refunds its line.
	var list []settlement.Order
	shop.ok("GET", "/api/v1/orders", nil, &list)
	require.Len(t, list, 1)
	r = shop.do("POST", "/api/v1/orders/"+o.ID+"/refund", `{"refund_id": "rma-1", "items": [{"line_id": "l2", "quantity": 1}]}`)
	assert.Equal(t, http.StatusForbidden, r.Status, "not the merchant's line")
	shop.ok("POST", "/api/v1/orders/"+o.ID+"/refund", `{"refund_id": "rma-1", "items": [{"line_id": "l1", "quantity": 1}]}`, &o)
	assert.Equal(t, settlement.StatePaid, o.State)
	assert.False(t, o.Refunded.IsZero())

	// Cashier consume of the offer coupon, amount as a JSON number.
	var cr ConsumeResult
	shop.with("Idempotency-Key", "till-7-001").ok("POST", "/api/v1/coupon/consume",
		`{"coupon_id": "`+claimed.Coupon.ID+`", "merchant_id": "10086", "amount": 150.00}`, &cr)
	assert.Equal(t, "150.00", cr.Amount)
	assert.Equal(t, "5.00", cr.Discount)
	assert.Equal(t, "145.00", cr.Paid)
	assert.NotEmpty(t, cr.TransactionID)
	r = shop.do("POST", "/api/v1/coupon/consume", `{"coupon_id": "`+claimed.Coupon.ID+`", "merchant_id": "10086", "amount": "150.00"}`)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "coupon_used", r.errCode())

	var rep ReconcileView
	admin.ok("GET", "/api/v1/admin/reconcile", nil, &rep)
	assert.Empty(t, rep.Mismatches)
	assert.Equal(t, 2, rep.Orders)
}

// TestConsumeByCode: an admin prints codes, a member redeems one, and the
// cashier consumes it by code, as in the mission's API example.
func TestConsumeByCode(t *testing.T) {
	env := newTestEnv(t, nil)
	admin := env.as(t, tenantA, RoleAdmin, "ops")
	bob := env.as(t, tenantA, RoleMember, "bob")
	shop := env.as(t, tenantA, RoleMerchant, "10086")

	var codes struct{ Codes []string }
	admin.ok("POST", "/api/v1/templates/GIFT15/codes", `{"count": 2, "length": 8}`, &codes)
	require.Len(t, codes.Codes, 2)
	code := codes.Codes[0]
	assert.Len(t, code, 9, "8 characters in two groups: 7XK9-B2T4")

	r := shop.do("POST", "/api/v1/coupon/consume", map[string]string{"coupon_code": code, "merchant_id": "10086", "amount": "150.00"})
	assert.Equal(t, http.StatusConflict, r.Status, "a code nobody redeemed yet")
	bob.ok("POST", "/api/v1/coupons/redeem-code", map[string]string{"coupon_code": code}, nil)

	r = shop.do("POST", "/api/v1/coupon/consume", map[string]string{"coupon_code": code, "merchant_id": "10086", "amount": "150.00"})
	require.Equal(t, http.StatusOK, r.Status, "%+v", r.Error)
	assert.Equal(t, 200, r.Code)
	var cr ConsumeResult
	r.into(t, &cr)
	assert.Equal(t, "15.00", cr.Discount)
	assert.Regexp(t, `^TX[0-9A-F]{32}$`, cr.TransactionID)

	typo := []byte(codes.Codes[1])
	typo[0], typo[1] = typo[1], typo[0]
	if typo[0] != typo[1] {
		r = shop.do("POST", "/api/v1/coupon/consume", map[string]string{"coupon_code": string(typo), "merchant_id": "10086", "amount": "150.00"})
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, "coupon_code_typo", r.errCode())
	}
}
