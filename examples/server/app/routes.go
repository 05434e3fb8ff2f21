package app

import (
	"net/http"
)

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	authed := func(h http.HandlerFunc) http.Handler { return a.authenticate(h) }
	limited := func(h http.HandlerFunc) http.Handler { return a.authenticate(a.limited(h)) }

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		a.writeData(w, r, http.StatusOK, map[string]string{"status": "ok", "instance": a.cfg.Instance})
	})
	mux.Handle("GET /metrics", a.MetricsHandler())

	// Members and points.
	mux.Handle("POST /api/v1/members", authed(a.handleRegister))
	mux.Handle("GET /api/v1/members/{id}", authed(a.handleProfile))
	mux.Handle("GET /api/v1/members/{id}/history", authed(a.handleHistory))
	mux.Handle("GET /api/v1/members/{id}/progress", authed(a.handleProgress))
	mux.Handle("POST /api/v1/members/{id}/points/accrue", authed(a.handleAccrue))
	mux.Handle("POST /api/v1/members/{id}/points/redeem", limited(a.handleRedeem))
	mux.Handle("GET /api/v1/members/{id}/offers", authed(a.handleOffers))
	mux.Handle("POST /api/v1/members/{id}/offers/{offer}/claim", limited(a.handleClaimOffer))

	// Coupons.
	mux.Handle("POST /api/v1/templates", authed(a.handleCreateTemplate))
	mux.Handle("GET /api/v1/templates/{id}/stats", authed(a.handleTemplateStats))
	mux.Handle("POST /api/v1/templates/{id}/codes", authed(a.handleGenerateCodes))
	mux.Handle("POST /api/v1/coupons/claim", limited(a.handleClaim))
	mux.Handle("POST /api/v1/coupons/redeem-code", limited(a.handleRedeemCode))
	mux.Handle("GET /api/v1/coupons", authed(a.handleMyCoupons))
	mux.Handle("POST /api/v1/coupon/consume", limited(a.handleConsume))

	// Carts, orders, settlement.
	mux.Handle("POST /api/v1/cart/preview", authed(a.handlePreview))
	mux.Handle("POST /api/v1/orders", authed(a.handleCreateOrder))
	mux.Handle("GET /api/v1/orders", authed(a.handleListOrders))
	mux.Handle("GET /api/v1/orders/{id}", authed(a.handleGetOrder))
	mux.Handle("POST /api/v1/orders/{id}/pay", authed(a.handlePay))
	mux.Handle("POST /api/v1/orders/{id}/fulfil", authed(a.lifecycle("fulfil")))
	mux.Handle("POST /api/v1/orders/{id}/complete", authed(a.lifecycle("complete")))
	mux.Handle("POST /api/v1/orders/{id}/cancel", authed(a.lifecycle("cancel")))
	mux.Handle("POST /api/v1/orders/{id}/refund", authed(a.handleRefund))
	mux.Handle("GET /api/v1/statements", authed(a.handleStatements))
	mux.Handle("POST /api/v1/admin/settlement/run", authed(a.handleRunCycles))
	mux.Handle("GET /api/v1/admin/reconcile", authed(a.handleReconcile))

	// Events and campaigns.
	mux.Handle("POST /api/v1/events", authed(a.handlePublishEvent))
	mux.Handle("GET /api/v1/leaderboards/{campaign}", authed(a.handleLeaderboard))

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errNotFound)
	})
	return a.observe(mux)
}
