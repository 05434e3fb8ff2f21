package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/settlement"
)

func TestTokensRefused(t *testing.T) {
	env := newTestEnv(t, nil)
	good := env.token(t, tenantA, RoleMember, "alice")
	other, err := NewIssuer([]byte("another-secret-another-secret-0123456"), nil)
	require.NoError(t, err)
	forged, err := other.Token(tenantA, RoleAdmin, "ops", time.Hour)
	require.NoError(t, err)
	expired, err := env.app.Issuer().Token(tenantA, RoleMember, "alice", -time.Minute)
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, Claims{Tenant: string(tenantA), Role: RoleAdmin,
		RegisteredClaims: jwt.RegisteredClaims{Subject: "ops", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	badRole, err := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Tenant: string(tenantA), Role: "root",
		RegisteredClaims: jwt.RegisteredClaims{Subject: "ops", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}).SignedString([]byte(testSecret))
	require.NoError(t, err)
	noExp, err := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Tenant: string(tenantA), Role: RoleAdmin,
		RegisteredClaims: jwt.RegisteredClaims{Subject: "ops"}}).SignedString([]byte(testSecret))
	require.NoError(t, err)

	for name, header := range map[string]string{
		"missing":        "",
		"not bearer":     "Basic " + good,
		"garbage":        "Bearer not-a-token",
		"wrong secret":   "Bearer " + forged,
		"expired":        "Bearer " + expired,
		"alg none":       "Bearer " + none,
		"unknown role":   "Bearer " + badRole,
		"no expiry":      "Bearer " + noExp,
		"tampered claim": "Bearer " + tamper(t, good),
	} {
		t.Run(name, func(t *testing.T) {
			c := &client{t: t, base: env.srv.URL}
			if header != "" {
				c = c.with("Authorization", header)
			}
			r := c.do("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`)
			assert.Equal(t, http.StatusUnauthorized, r.Status)
			assert.Equal(t, "unauthenticated", r.errCode())
		})
	}
	st, err := env.app.Kit().Coupons.Stats(t.Context(), tenantA, TemplateFlash)
	require.NoError(t, err)
	assert.Zero(t, st.Issued, "no refused call issued a coupon")
}

// tamper swaps the payload of a valid token for one naming an admin,
// keeping the signature.
func tamper(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	forged := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Tenant: string(tenantA), Role: RoleAdmin,
		RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}})
	s, err := forged.SigningString()
	require.NoError(t, err)
	return strings.Split(s, ".")[0] + "." + strings.Split(s, ".")[1] + "." + parts[2]
}

// TestIsolation: no caller reads or changes what belongs to another tenant,
// another member or another merchant; every refused call changes nothing.
func TestIsolation(t *testing.T) {
	env := newTestEnv(t, nil)
	adminA := env.as(t, tenantA, RoleAdmin, "ops")
	alice := env.as(t, tenantA, RoleMember, "alice")
	bob := env.as(t, tenantA, RoleMember, "bob")
	shop := env.as(t, tenantA, RoleMerchant, "10086")
	rival := env.as(t, tenantA, RoleMerchant, "20000")
	adminB := env.as(t, tenantB, RoleAdmin, "ops")
	aliceB := env.as(t, tenantB, RoleMember, "alice")
	shopB := env.as(t, tenantB, RoleMerchant, "10086")

	alice.ok("POST", "/api/v1/members", `{"email": "alice@example.com", "name": "Alice"}`, nil)
	bob.ok("POST", "/api/v1/members", `{"email": "bob@example.com", "name": "Bob"}`, nil)
	adminA.ok("POST", "/api/v1/members/alice/points/accrue", `{"points": 700}`, nil)
	var cp coupon.Coupon
	alice.ok("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`, &cp)
	cart := `{"lines": [{"id": "l1", "sku": "tee", "merchant": "10086", "unit_price": "60.00", "quantity": 1}], "coupon_ids": ["` + cp.ID + `"]}`
	var o settlement.Order
	alice.ok("POST", "/api/v1/orders", cart, &o)

	snapshot := func() (int64, settlement.Order, coupon.Coupon) {
		bal, err := env.app.Kit().Ledger.Balance(t.Context(), tenantA, env.app.Kit().Loyalty.Account("alice"), Points)
		require.NoError(t, err)
		pts, _ := bal.Posted.Minor()
		ord, err := env.app.Kit().Orders.Order(t.Context(), tenantA, o.ID)
		require.NoError(t, err)
		c, err := env.app.Kit().Coupons.Coupon(t.Context(), tenantA, cp.ID)
		require.NoError(t, err)
		return pts, ord, c
	}
	pts0, ord0, cp0 := snapshot()

	for _, tc := range []struct {
		name   string
		c      *client
		method string
		path   string
		body   string
		status int
	}{
		{"bob reads alice", bob, "GET", "/api/v1/members/alice", "", 404},
		{"bob reads alice's history", bob, "GET", "/api/v1/members/alice/history", "", 404},
		{"bob redeems alice's points", bob, "POST", "/api/v1/members/alice/points/redeem", `{"points": 100}`, 404},
		{"bob claims alice's offer", bob, "POST", "/api/v1/members/alice/offers/treat5/claim", "", 404},
		{"bob reads alice's order", bob, "GET", "/api/v1/orders/" + o.ID, "", 404},
		{"bob pays alice's order", bob, "POST", "/api/v1/orders/" + o.ID + "/pay", `{"payment_ref": "x", "amount": "48.00"}`, 404},
		{"bob cancels alice's order", bob, "POST", "/api/v1/orders/" + o.ID + "/cancel", "", 404},
		{"bob uses alice's coupon", bob, "POST", "/api/v1/orders", cart, 404},
		{"member accrues own points", alice, "POST", "/api/v1/members/alice/points/accrue", `{"points": 100}`, 403},
		{"member reconciles", alice, "GET", "/api/v1/admin/reconcile", "", 403},
		{"member reads statements", alice, "GET", "/api/v1/statements", "", 403},
		{"member consumes", alice, "POST", "/api/v1/coupon/consume", `{"coupon_id": "` + cp.ID + `", "merchant_id": "10086", "amount": "60.00"}`, 403},
		{"rival reads the order", rival, "GET", "/api/v1/orders/" + o.ID, "", 404},
		{"rival fulfils the order", rival, "POST", "/api/v1/orders/" + o.ID + "/fulfil", "", 404},
		{"rival reads shop's statements", rival, "GET", "/api/v1/statements?party=merchant:10086", "", 403},
		{"rival consumes as shop", rival, "POST", "/api/v1/coupon/consume", `{"coupon_id": "` + cp.ID + `", "merchant_id": "10086", "amount": "60.00"}`, 403},
		{"rival reads a template's stats", rival, "GET", "/api/v1/templates/FLASH20/stats", "", 404},
		{"merchant redeems points", shop, "POST", "/api/v1/members/alice/points/redeem", `{"points": 100}`, 403},
		{"tenant B admin reads the order", adminB, "GET", "/api/v1/orders/" + o.ID, "", 404},
		{"tenant B admin refunds the order", adminB, "POST", "/api/v1/orders/" + o.ID + "/refund", `{"refund_id": "r1", "items": [{"line_id": "l1", "quantity": 1}]}`, 404},
		{"tenant B admin accrues to alice", adminB, "POST", "/api/v1/members/alice/points/accrue", `{"points": 100}`, 404},
		{"tenant B alice reads her namesake", aliceB, "GET", "/api/v1/members/alice", "", 404},
		{"tenant B alice pays the order", aliceB, "POST", "/api/v1/orders/" + o.ID + "/pay", `{"payment_ref": "x", "amount": "48.00"}`, 404},
		{"tenant B alice uses the coupon", aliceB, "POST", "/api/v1/orders", cart, 404},
		{"tenant B shop consumes the coupon", shopB, "POST", "/api/v1/coupon/consume", `{"coupon_id": "` + cp.ID + `", "merchant_id": "10086", "amount": "60.00"}`, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := tc.c.do(tc.method, tc.path, body)
			assert.Equal(t, tc.status, r.Status, "%+v", r.Error)
			require.NotNil(t, r.Error)
		})
	}
	pts1, ord1, cp1 := snapshot()
	assert.Equal(t, pts0, pts1, "alice's points did not move")
	assert.Equal(t, ord0.Version, ord1.Version, "the order did not change")
	assert.Equal(t, cp0.Version, cp1.Version, "the coupon did not change")
	var list []settlement.Order
	adminB.ok("GET", "/api/v1/orders", nil, &list)
	assert.Empty(t, list, "tenant B sees none of tenant A's orders")
	bob.ok("GET", "/api/v1/orders", nil, &list)
	assert.Empty(t, list, "bob sees none of alice's orders")
	shop.ok("GET", "/api/v1/orders", nil, &list)
	assert.Len(t, list, 1, "the shop sees the order of its line")
}

func TestRateLimits(t *testing.T) {
	t.Run("per caller", func(t *testing.T) {
		env := newTestEnv(t, func(c *Config) { c.CallerLimit = RateLimit{Rate: 0.001, Burst: 2} })
		alice := env.as(t, tenantA, RoleMember, "alice")
		alice.ok("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`, nil)
		alice.do("POST", "/api/v1/coupons/claim", `{"template_id": "WELCOME10"}`)
		r := alice.do("POST", "/api/v1/coupons/claim", `{"template_id": "GIFT15"}`)
		assert.Equal(t, http.StatusTooManyRequests, r.Status)
		assert.Equal(t, "rate_limited", r.errCode())
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
		// Another caller from the same IP still gets through.
		env.as(t, tenantA, RoleMember, "bob").ok("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`, nil)
		st, err := env.app.Kit().Coupons.Stats(t.Context(), tenantA, TemplateCodes)
		require.NoError(t, err)
		assert.Zero(t, st.Issued, "the refused claim issued nothing")
	})
	t.Run("per IP", func(t *testing.T) {
		env := newTestEnv(t, func(c *Config) { c.IPLimit = RateLimit{Rate: 0.001, Burst: 3}; c.TrustForwardedFor = true })
		for i, who := range []string{"a", "b", "c", "d"} {
			r := env.as(t, tenantA, RoleMember, who).with("X-Forwarded-For", "203.0.113.7").do("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`)
			if i < 3 {
				assert.Equal(t, http.StatusCreated, r.Status)
			} else {
				assert.Equal(t, http.StatusTooManyRequests, r.Status)
			}
		}
		env.as(t, tenantA, RoleMember, "e").with("X-Forwarded-For", "203.0.113.8").ok("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`, nil)
		st, err := env.app.Kit().Coupons.Stats(t.Context(), tenantA, TemplateFlash)
		require.NoError(t, err)
		assert.EqualValues(t, 4, st.Issued)
	})
	t.Run("shared claim velocity freezes the account", func(t *testing.T) {
		env := newTestEnv(t, func(c *Config) { c.ClaimsPerIP = 2; c.TrustForwardedFor = true })
		mallory := env.as(t, tenantA, RoleMember, "mallory").with("X-Forwarded-For", "198.51.100.9")
		mallory.ok("POST", "/api/v1/coupons/claim", `{"template_id": "FLASH20"}`, nil)
		mallory.ok("POST", "/api/v1/coupons/claim", `{"template_id": "WELCOME10"}`, nil)
		r := mallory.do("POST", "/api/v1/coupons/claim", `{"template_id": "GIFT15"}`)
		assert.Equal(t, http.StatusTooManyRequests, r.Status)
		assert.Equal(t, "risk_limited", r.errCode())
		// Frozen: from another IP too, mallory is refused.
		r = mallory.with("X-Forwarded-For", "198.51.100.10").do("POST", "/api/v1/coupons/claim", `{"template_id": "GIFT15"}`)
		assert.Equal(t, http.StatusForbidden, r.Status)
		assert.Equal(t, "denied", r.errCode())
		_, denied, err := env.app.Kit().Risk.Denied(t.Context(), tenantA, "user", "mallory")
		require.NoError(t, err)
		assert.True(t, denied)
		st, err := env.app.Kit().Coupons.Stats(t.Context(), tenantA, TemplateCodes)
		require.NoError(t, err)
		assert.Zero(t, st.Issued)
	})
	t.Run("buckets stay bounded", func(t *testing.T) {
		b := newBuckets(RateLimit{Rate: 1, Burst: 1}, 100)
		now := time.Now()
		for i := range 1000 {
			b.allow(string(rune('a'+i%26))+strings.Repeat("x", i), now)
		}
		assert.Equal(t, 100, b.size())
	})
}

// TestBadInput: malformed bodies get a 4xx with a clear code, never a 500,
// and write nothing.
func TestBadInput(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.CallerLimit = RateLimit{Rate: 1000, Burst: 1000} })
	admin := env.as(t, tenantA, RoleAdmin, "ops")
	alice := env.as(t, tenantA, RoleMember, "alice")
	shop := env.as(t, tenantA, RoleMerchant, "10086")
	alice.ok("POST", "/api/v1/members", `{"email": "alice@example.com", "name": "Alice"}`, nil)
	admin.ok("POST", "/api/v1/members/alice/points/accrue", `{"points": 100}`, nil)
	var cp coupon.Coupon
	alice.ok("POST", "/api/v1/coupons/claim", `{"template_id": "WELCOME10"}`, &cp)

	huge := `{"points": 1, "reason": "` + strings.Repeat("x", 100<<10) + `"}`
	line := func(price, qty string) string {
		return `{"lines": [{"id": "l1", "sku": "tee", "merchant": "10086", "unit_price": ` + price + `, "quantity": ` + qty + `}]}`
	}
	for _, tc := range []struct {
		name   string
		c      *client
		path   string
		body   string
		status int
		code   string
	}{
		{"malformed JSON", alice, "/api/v1/members/me/points/redeem", `{"points": 1`, 400, "invalid_json"},
		{"not JSON", alice, "/api/v1/members/me/points/redeem", `points=1`, 400, "invalid_json"},
		{"empty body", alice, "/api/v1/members/me/points/redeem", ``, 400, "invalid_json"},
		{"two objects", alice, "/api/v1/members/me/points/redeem", `{"points": 1}{"points": 1}`, 400, "invalid_json"},
		{"array", alice, "/api/v1/members/me/points/redeem", `[1]`, 400, "invalid_field"},
		{"unknown field", alice, "/api/v1/members/me/points/redeem", `{"points": 1, "bonus": 5}`, 400, "unknown_field"},
		{"wrong type", alice, "/api/v1/orders", line(`"10.00"`, `"two"`), 400, "invalid_field"},
		{"bool amount", alice, "/api/v1/members/me/points/redeem", `{"points": true}`, 400, "invalid_amount"},
		{"negative points", alice, "/api/v1/members/me/points/redeem", `{"points": -5}`, 400, "invalid_amount"},
		{"zero points", alice, "/api/v1/members/me/points/redeem", `{"points": 0}`, 400, "invalid_amount"},
		{"fractional points", alice, "/api/v1/members/me/points/redeem", `{"points": 1.5}`, 400, "invalid_amount"},
		{"exponent", alice, "/api/v1/members/me/points/redeem", `{"points": 1e2}`, 400, "invalid_amount"},
		{"too many points", admin, "/api/v1/members/alice/points/accrue", `{"points": 99999999999}`, 400, "invalid_amount"},
		{"huge body", admin, "/api/v1/members/alice/points/accrue", huge, 413, "body_too_large"},
		{"negative price", alice, "/api/v1/orders", line(`"-10.00"`, `1`), 400, "invalid_amount"},
		{"sub-cent price", alice, "/api/v1/orders", line(`"10.001"`, `1`), 400, "invalid_amount"},
		{"zero quantity", alice, "/api/v1/orders", line(`"10.00"`, `0`), 400, "invalid_cart"},
		{"no lines", alice, "/api/v1/orders", `{"lines": []}`, 400, "invalid_cart"},
		{"bad line id", alice, "/api/v1/orders", `{"lines": [{"id": "l 1", "sku": "tee", "merchant": "10086", "unit_price": "1.00", "quantity": 1}]}`, 400, "invalid_field"},
		{"insufficient points", alice, "/api/v1/members/me/points/redeem", `{"points": 101}`, 422, "insufficient_points"},
		{"negative consume", shop, "/api/v1/coupon/consume", `{"coupon_id": "` + cp.ID + `", "merchant_id": "10086", "amount": "-150.00"}`, 400, "invalid_amount"},
		{"consume amount as object", shop, "/api/v1/coupon/consume", `{"coupon_id": "` + cp.ID + `", "merchant_id": "10086", "amount": {"v": 1}}`, 400, "invalid_amount"},
		{"consume below min spend", shop, "/api/v1/coupon/consume", `{"coupon_id": "` + cp.ID + `", "merchant_id": "10086", "amount": "20.00"}`, 422, "coupon_not_applicable"},
		{"malformed code", shop, "/api/v1/coupon/consume", `{"coupon_code": "NOT-A-CODE-!!", "merchant_id": "10086", "amount": "150.00"}`, 400, "coupon_code_malformed"},
		{"both code and id", shop, "/api/v1/coupon/consume", `{"coupon_code": "7XK9-B2T4", "coupon_id": "x", "merchant_id": "10086", "amount": "150.00"}`, 400, "invalid_field"},
		{"bad template", admin, "/api/v1/templates", `{"id": "T1", "benefit": {"kind": "percent_off", "currency": "USD", "percent": "120"}, "validity": {"days": 1}}`, 400, "invalid_template"},
		{"bad email", env.as(t, tenantA, RoleMember, "carol"), "/api/v1/members", `{"email": "not an email", "name": "Carol"}`, 400, "invalid_field"},
		{"bad event", admin, "/api/v1/events", `{"id": "e1", "type": "order_installed"}`, 503, "no_transport"},
		{"wrong content type", alice.with("Content-Type", "text/plain"), "/api/v1/members/me/points/redeem", `{"points": 1}`, 415, "unsupported_media_type"},
		{"bad idempotency key", alice.with("Idempotency-Key", strings.Repeat("k", 201)), "/api/v1/members/me/points/redeem", `{"points": 1}`, 400, "invalid_idempotency_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.do("POST", tc.path, tc.body)
			assert.Equal(t, tc.status, r.Status, "%+v", r.Error)
			require.NotNil(t, r.Error)
			assert.Equal(t, tc.code, r.Error.Code)
			assert.NotEmpty(t, r.Error.Message)
		})
	}
	var p MemberProfile
	alice.ok("GET", "/api/v1/members/me", nil, &p)
	assert.EqualValues(t, 100, p.Points, "no refused call moved points")
	orders, err := env.app.store.Settlement().FindOrders(t.Context(), settlement.OrderQuery{Tenant: tenantA})
	require.NoError(t, err)
	assert.Empty(t, orders, "no refused call wrote an order")
	c, err := env.app.Kit().Coupons.Coupon(t.Context(), tenantA, cp.ID)
	require.NoError(t, err)
	assert.Equal(t, coupon.StateActivated, c.State)
}
