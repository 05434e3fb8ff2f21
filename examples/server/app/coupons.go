package app

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

// ownsTemplate reports whether a merchant owns a template: merchants create
// templates scoped to themselves alone.
func ownsTemplate(c Caller, t coupon.Template) bool {
	switch c.Role {
	case RoleAdmin:
		return true
	case RoleMerchant:
		return len(t.Scope.Merchants) == 1 && t.Scope.Merchants[0] == c.Subject
	}
	return false
}

func (a *App) handleCreateTemplate(w http.ResponseWriter, r *http.Request, c Caller, t coupon.Template) error {
	if t.Tenant != "" && t.Tenant != c.Tenant {
		return errForbidden
	}
	t.Tenant = c.Tenant
	t.CreatedAt = time.Time{}
	if c.Role == RoleMerchant {
		if len(t.Scope.Merchants) > 0 && !ownsTemplate(c, t) {
			return errForbidden
		}
		t.Scope.Merchants = []string{c.Subject}
	}
	if err := checkID("id", t.ID); err != nil {
		return err
	}
	a.write(w, r, "templates.create", t, func(ctx context.Context) (int, any, error) {
		out, err := a.kit.Coupons.CreateTemplate(ctx, t)
		return http.StatusCreated, out, err
	})
	return nil
}

// template reads a template the caller may manage; others get 404.
func (a *App) managedTemplate(ctx context.Context, c Caller, id string) (coupon.Template, error) {
	if err := allow(c, RoleAdmin, RoleMerchant); err != nil {
		return coupon.Template{}, err
	}
	t, err := a.kit.Coupons.Template(ctx, c.Tenant, id)
	if err != nil {
		return t, err
	}
	if !ownsTemplate(c, t) {
		return t, errorf(http.StatusNotFound, "template_not_found", "no template "+id)
	}
	return t, nil
}

// TemplateStats are a template's numbers.
type TemplateStats struct {
	TemplateID     string                 `json:"template_id"`
	Issued         int64                  `json:"issued"`
	Used           int64                  `json:"used"`
	RemainingStock int64                  `json:"remaining_stock"`
	ByState        map[coupon.State]int64 `json:"by_state"`
}

func (a *App) handleTemplateStats(w http.ResponseWriter, r *http.Request, c Caller) error {
	id := r.PathValue("id")
	if _, err := a.managedTemplate(r.Context(), c, id); err != nil {
		return err
	}
	st, err := a.kit.Coupons.Stats(r.Context(), c.Tenant, id)
	if err != nil {
		return err
	}
	a.writeData(w, r, http.StatusOK, TemplateStats{TemplateID: st.TemplateID, Issued: st.Issued, Used: st.Used, RemainingStock: st.RemainingStock, ByState: st.ByState})
	return nil
}

type codesReq struct {
	Count  int `json:"count"`
	Length int `json:"length,omitempty"`
}

func (a *App) handleGenerateCodes(w http.ResponseWriter, r *http.Request, c Caller, req codesReq) error {
	id := r.PathValue("id")
	if req.Count < 1 || req.Count > 1000 {
		return errorf(http.StatusBadRequest, "invalid_field", "count must be 1 to 1000")
	}
	if _, err := a.managedTemplate(r.Context(), c, id); err != nil {
		return err
	}
	a.write(w, r, "templates.codes", struct {
		Template string
		Req      codesReq
	}{id, req}, func(ctx context.Context) (int, any, error) {
		codes, err := a.kit.Coupons.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: c.Tenant, TemplateID: id, Count: req.Count, Length: req.Length})
		if err != nil {
			return 0, nil, err
		}
		out := make([]string, len(codes))
		for i, code := range codes {
			out[i] = coupon.FormatCode(code)
		}
		return http.StatusCreated, map[string]any{"template_id": id, "codes": out}, nil
	})
	return nil
}

type claimReq struct {
	TemplateID string `json:"template_id"`
	DeviceID   string `json:"device_id,omitempty"`
}

func (a *App) handleClaim(w http.ResponseWriter, r *http.Request, c Caller, req claimReq) error {
	if err := checkID("template_id", req.TemplateID); err != nil {
		return err
	}
	if req.DeviceID != "" {
		if err := checkID("device_id", req.DeviceID); err != nil {
			return err
		}
	}
	if _, err := a.riskCheck(r.Context(), c, risk.Action{Kind: actClaim, UserID: c.Subject, IP: a.clientIP(r), DeviceID: req.DeviceID}); err != nil {
		a.metrics.claims.WithLabelValues("risk").Inc()
		return err
	}
	ok := a.write(w, r, "coupons.claim", req, func(ctx context.Context) (int, any, error) {
		cp, err := a.kit.Coupons.Claim(ctx, coupon.ClaimRequest{Tenant: c.Tenant, TemplateID: req.TemplateID, UserID: c.Subject, Actor: "member:" + c.Subject})
		return http.StatusCreated, cp, err
	})
	a.metrics.claims.WithLabelValues(strconv.FormatBool(ok)).Inc()
	return nil
}

type redeemCodeReq struct {
	CouponCode string `json:"coupon_code"`
}

func (a *App) handleRedeemCode(w http.ResponseWriter, r *http.Request, c Caller, req redeemCodeReq) error {
	if _, err := coupon.ParseCode(req.CouponCode); err != nil {
		return err
	}
	ok := a.write(w, r, "coupons.redeem-code", req, func(ctx context.Context) (int, any, error) {
		cp, err := a.kit.Coupons.RedeemCode(ctx, coupon.RedeemRequest{Tenant: c.Tenant, Code: req.CouponCode, UserID: c.Subject, Actor: "member:" + c.Subject})
		return http.StatusCreated, cp, err
	})
	a.metrics.redemptions.WithLabelValues("code", strconv.FormatBool(ok)).Inc()
	return nil
}

func (a *App) handleMyCoupons(w http.ResponseWriter, r *http.Request, c Caller) error {
	var states []coupon.State
	if s := r.URL.Query().Get("state"); s != "" {
		st := coupon.State(s)
		if !st.Valid() {
			return errorf(http.StatusBadRequest, "invalid_field", "state must be one of the coupon states")
		}
		states = append(states, st)
	}
	list, err := a.kit.Coupons.ListByUser(r.Context(), c.Tenant, c.Subject, states...)
	if err != nil {
		return err
	}
	if list == nil {
		list = []coupon.Coupon{}
	}
	a.writeData(w, r, http.StatusOK, list)
	return nil
}

type consumeReq struct {
	CouponCode string  `json:"coupon_code,omitempty"`
	CouponID   string  `json:"coupon_id,omitempty"`
	MerchantID string  `json:"merchant_id"`
	Amount     Decimal `json:"amount"`
	SKU        string  `json:"sku,omitempty"`
}

// ConsumeResult is the answer of a cashier's consume.
type ConsumeResult struct {
	TransactionID string `json:"transaction_id"`
	CouponID      string `json:"coupon_id"`
	Amount        string `json:"amount"`
	Discount      string `json:"discount"`
	Paid          string `json:"paid"`
	Currency      string `json:"currency"`
	Review        bool   `json:"review,omitempty"`
}

// handleConsume is the cashier flow: the merchant scans a member's coupon
// code for a purchase; the server validates the code, runs the risk
// controls, and in one transaction prices the purchase with the coupon,
// locks it, creates the order and confirms its payment (the coupon is USED).
// The transaction ID is the order ID.
func (a *App) handleConsume(w http.ResponseWriter, r *http.Request, c Caller, req consumeReq) error {
	if err := checkID("merchant_id", req.MerchantID); err != nil {
		return err
	}
	if req.MerchantID != c.Subject {
		return errorf(http.StatusForbidden, "forbidden", "merchant_id must be the calling merchant")
	}
	if (req.CouponCode == "") == (req.CouponID == "") {
		return errorf(http.StatusBadRequest, "invalid_field", "give exactly one of coupon_code and coupon_id")
	}
	var code string
	if req.CouponCode != "" {
		var err error
		if code, err = coupon.ParseCode(req.CouponCode); err != nil {
			return err
		}
	} else if err := checkID("coupon_id", req.CouponID); err != nil {
		return err
	}
	if req.SKU == "" {
		req.SKU = "in-store"
	} else if err := checkID("sku", req.SKU); err != nil {
		return err
	}
	amt, err := req.Amount.amount("amount", a.cfg.Currency, false)
	if err != nil {
		return err
	}
	d, err := a.riskCheck(r.Context(), c, risk.Action{Kind: actConsume, MerchantID: c.Subject, IP: a.clientIP(r), Amount: amt})
	if err != nil {
		a.metrics.redemptions.WithLabelValues("consume", "risk").Inc()
		return err
	}
	ok := a.write(w, r, "coupons.consume", req, func(ctx context.Context) (int, any, error) {
		var res ConsumeResult
		err := a.store.InTx(ctx, func(ctx context.Context) error {
			var cp coupon.Coupon
			var err error
			if code != "" {
				cp, err = a.store.Coupons().CouponByCode(ctx, c.Tenant, code)
				if errors.Is(err, storage.ErrNotFound) {
					err = coupon.ErrUnknownCode
				}
			} else {
				cp, err = a.kit.Coupons.Coupon(ctx, c.Tenant, req.CouponID)
			}
			if err != nil {
				return err
			}
			if cp.UserID == "" {
				return errorf(http.StatusConflict, "coupon_not_activated", "the coupon has not been claimed by a member")
			}
			if cp.State != coupon.StateActivated {
				return stateError(cp)
			}
			cart := settlement.Cart{Currency: a.cfg.Currency, Lines: []settlement.Line{{ID: "l1", SKU: req.SKU, Merchant: c.Subject, UnitPrice: amt, Quantity: 1}}}
			start := time.Now()
			offers, err := a.kit.Orders.Offers(ctx, settlement.OffersRequest{Tenant: c.Tenant, UserID: cp.UserID, Cart: cart, CouponIDs: []string{cp.ID}})
			a.metrics.pricing.Observe(time.Since(start).Seconds())
			if err != nil {
				return err
			}
			orderID := "TX" + compactUUID()
			o, err := a.kit.Orders.CreateOrder(ctx, settlement.CreateRequest{Tenant: c.Tenant, OrderID: orderID, UserID: cp.UserID, Channel: "store", Cart: cart, Offers: offers})
			if err != nil {
				return err
			}
			if len(o.Coupons) == 0 {
				return errorf(http.StatusUnprocessableEntity, "coupon_not_applicable", "the coupon gives no discount on this purchase")
			}
			o, err = a.kit.Orders.Pay(ctx, settlement.PayRequest{Tenant: c.Tenant, OrderID: orderID, PaymentRef: "cashier:" + orderID, Amount: o.Tenders[0].Amount})
			if err != nil {
				return err
			}
			res = ConsumeResult{TransactionID: o.ID, CouponID: cp.ID, Amount: o.Subtotal.StringFixed(), Discount: o.Discount.StringFixed(),
				Paid: o.Total.StringFixed(), Currency: a.cfg.Currency.Code(), Review: d.Outcome == risk.Review}
			return nil
		})
		return http.StatusOK, res, err
	})
	a.metrics.redemptions.WithLabelValues("consume", strconv.FormatBool(ok)).Inc()
	return nil
}

func compactUUID() string {
	u := uuid.Must(uuid.NewV7())
	const hexdig = "0123456789ABCDEF"
	out := make([]byte, 32)
	for i, b := range u {
		out[2*i], out[2*i+1] = hexdig[b>>4], hexdig[b&15]
	}
	return string(out)
}

// stateError explains why a coupon in another state than ACTIVATED cannot
// be consumed.
func stateError(cp coupon.Coupon) error {
	code := "coupon_" + strings.ToLower(string(cp.State))
	return errorf(http.StatusConflict, code, "coupon "+cp.ID+" is "+string(cp.State))
}
