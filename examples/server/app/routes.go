package app

import (
	"net/http"
)

// route is the body of an API handler. It is given the authenticated
// caller, answers success itself (writeData, or write for a state change)
// and returns the error that stops it, which handle answers.
type route func(w http.ResponseWriter, r *http.Request, c Caller) error

// handle serves h. Given roles, the caller must hold one of them (403
// forbidden) before h runs; a route without roles checks its caller itself
// (a member's own records, a merchant's own template). An error from the
// check or from h is answered by writeError.
func (a *App) handle(h route, roles ...Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := callerFrom(r.Context())
		var err error
		if len(roles) > 0 {
			err = allow(c, roles...)
		}
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			a.writeError(w, r, err)
		}
	})
}

// withBody is a route whose request is one JSON object: decode reads it
// into a T (400 or 413 when it cannot) before fn runs.
func withBody[T any](a *App, fn func(w http.ResponseWriter, r *http.Request, c Caller, req T) error) route {
	return func(w http.ResponseWriter, r *http.Request, c Caller) error {
		var req T
		if err := decode(w, r, a.cfg.MaxBody, &req); err != nil {
			return err
		}
		return fn(w, r, c, req)
	}
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	// The roles after a route are who may call it; the rate limit of the
	// limited routes comes before that check.
	authed := func(h route, roles ...Role) http.Handler { return a.authenticate(a.handle(h, roles...)) }
	limited := func(h route, roles ...Role) http.Handler { return a.authenticate(a.limited(a.handle(h, roles...))) }

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		a.writeData(w, r, http.StatusOK, map[string]string{"status": "ok", "instance": a.cfg.Instance})
	})
	mux.Handle("GET /metrics", a.MetricsHandler())

	// Members and points.
	mux.Handle("POST /api/v1/members", authed(withBody(a, a.handleRegister)))
	mux.Handle("GET /api/v1/members/{id}", authed(a.handleProfile))
	mux.Handle("GET /api/v1/members/{id}/history", authed(a.handleHistory))
	mux.Handle("GET /api/v1/members/{id}/progress", authed(a.handleProgress))
	mux.Handle("POST /api/v1/members/{id}/points/accrue", authed(a.handleAccrue))
	mux.Handle("POST /api/v1/members/{id}/points/redeem", limited(a.handleRedeem))
	mux.Handle("GET /api/v1/members/{id}/offers", authed(a.handleOffers))
	mux.Handle("POST /api/v1/members/{id}/offers/{offer}/claim", limited(a.handleClaimOffer))

	// Coupons.
	mux.Handle("POST /api/v1/templates", authed(withBody(a, a.handleCreateTemplate), RoleAdmin, RoleMerchant))
	mux.Handle("GET /api/v1/templates/{id}/stats", authed(a.handleTemplateStats))
	mux.Handle("POST /api/v1/templates/{id}/codes", authed(withBody(a, a.handleGenerateCodes)))
	mux.Handle("POST /api/v1/coupons/claim", limited(withBody(a, a.handleClaim), RoleMember))
	mux.Handle("POST /api/v1/coupons/redeem-code", limited(withBody(a, a.handleRedeemCode), RoleMember))
	mux.Handle("GET /api/v1/coupons", authed(a.handleMyCoupons, RoleMember))
	mux.Handle("POST /api/v1/coupon/consume", limited(withBody(a, a.handleConsume), RoleMerchant))

	// Carts, orders, settlement.
	mux.Handle("POST /api/v1/cart/preview", authed(withBody(a, a.handlePreview), RoleMember))
	mux.Handle("POST /api/v1/orders", authed(withBody(a, a.handleCreateOrder), RoleMember))
	mux.Handle("GET /api/v1/orders", authed(a.handleListOrders))
	mux.Handle("GET /api/v1/orders/{id}", authed(a.handleGetOrder))
	mux.Handle("POST /api/v1/orders/{id}/pay", authed(withBody(a, a.handlePay), RoleMember, RoleAdmin))
	mux.Handle("POST /api/v1/orders/{id}/fulfil", authed(a.lifecycle("fulfil"), RoleAdmin, RoleMerchant))
	mux.Handle("POST /api/v1/orders/{id}/complete", authed(a.lifecycle("complete"), RoleAdmin, RoleMerchant))
	mux.Handle("POST /api/v1/orders/{id}/cancel", authed(a.lifecycle("cancel"), RoleAdmin, RoleMember))
	mux.Handle("POST /api/v1/orders/{id}/refund", authed(withBody(a, a.handleRefund), RoleAdmin, RoleMerchant))
	mux.Handle("GET /api/v1/statements", authed(a.handleStatements))
	mux.Handle("POST /api/v1/admin/settlement/run", authed(a.handleRunCycles, RoleAdmin))
	mux.Handle("GET /api/v1/admin/reconcile", authed(a.handleReconcile, RoleAdmin))

	// Events and campaigns.
	mux.Handle("POST /api/v1/events", authed(a.handlePublishEvent, RoleAdmin, RoleMerchant))
	mux.Handle("GET /api/v1/leaderboards/{campaign}", authed(a.handleLeaderboard))

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errNotFound)
	})
	return a.observe(mux)
}
