package app

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/settlement"
)

type lineIn struct {
	ID        string  `json:"id"`
	SKU       string  `json:"sku"`
	Category  string  `json:"category,omitempty"`
	Merchant  string  `json:"merchant"`
	UnitPrice Decimal `json:"unit_price"`
	Quantity  int     `json:"quantity"`
}

type cartReq struct {
	Lines            []lineIn `json:"lines"`
	Shipping         Decimal  `json:"shipping,omitempty"`
	ShippingMerchant string   `json:"shipping_merchant,omitempty"`
	CouponIDs        []string `json:"coupon_ids,omitempty"`
	Channel          string   `json:"channel,omitempty"`
	BestCombination  bool     `json:"best_combination,omitempty"`
}

func (a *App) cart(req cartReq) (settlement.Cart, error) {
	cur := a.cfg.Currency
	cart := settlement.Cart{Currency: cur}
	if len(req.Lines) == 0 || len(req.Lines) > 100 {
		return cart, errorf(http.StatusBadRequest, "invalid_cart", "a cart needs 1 to 100 lines")
	}
	if len(req.CouponIDs) > 10 {
		return cart, errorf(http.StatusBadRequest, "invalid_cart", "at most 10 coupons per cart")
	}
	for _, id := range req.CouponIDs {
		if err := checkID("coupon_ids", id); err != nil {
			return cart, err
		}
	}
	if req.Channel != "" {
		if err := checkID("channel", req.Channel); err != nil {
			return cart, err
		}
	}
	for i, l := range req.Lines {
		for field, v := range map[string]string{"id": l.ID, "sku": l.SKU, "merchant": l.Merchant} {
			if err := checkID(fmt.Sprintf("lines[%d].%s", i, field), v); err != nil {
				return cart, err
			}
		}
		if l.Category != "" {
			if err := checkID(fmt.Sprintf("lines[%d].category", i), l.Category); err != nil {
				return cart, err
			}
		}
		if l.Quantity < 1 || l.Quantity > 10_000 {
			return cart, errorf(http.StatusBadRequest, "invalid_cart", fmt.Sprintf("lines[%d].quantity must be 1 to 10000", i))
		}
		price, err := l.UnitPrice.amount(fmt.Sprintf("lines[%d].unit_price", i), cur, true)
		if err != nil {
			return cart, err
		}
		cart.Lines = append(cart.Lines, settlement.Line{ID: l.ID, SKU: l.SKU, Category: l.Category, Merchant: l.Merchant, UnitPrice: price, Quantity: l.Quantity})
	}
	if req.Shipping != "" {
		fee, err := req.Shipping.amount("shipping", cur, true)
		if err != nil {
			return cart, err
		}
		cart.Shipping = fee
		if req.ShippingMerchant != "" {
			if err := checkID("shipping_merchant", req.ShippingMerchant); err != nil {
				return cart, err
			}
		}
		cart.ShippingMerchant = req.ShippingMerchant
	}
	if err := cart.Validate(); err != nil {
		return cart, err
	}
	return cart, nil
}

// QuoteView is a priced cart as the API shows it; amounts are decimal
// strings in Currency.
type QuoteView struct {
	Currency  string         `json:"currency"`
	Subtotal  string         `json:"subtotal"`
	Shipping  string         `json:"shipping"`
	Discount  string         `json:"discount"`
	Total     string         `json:"total"`
	Lines     []QuoteLine    `json:"lines"`
	Discounts []DiscountView `json:"discounts"`
	Rejected  []RejectedView `json:"rejected"`
}

// QuoteLine is one priced line.
type QuoteLine struct {
	ID       string `json:"id"`
	Amount   string `json:"amount"`
	Discount string `json:"discount"`
	Final    string `json:"final"`
}

// DiscountView is one discount that applied.
type DiscountView struct {
	OfferID  string `json:"offer_id"`
	CouponID string `json:"coupon_id,omitempty"`
	Amount   string `json:"amount"`
}

// RejectedView is one offer that did not apply, and why.
type RejectedView struct {
	OfferID string `json:"offer_id"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail,omitempty"`
}

func quoteView(q *settlement.Quote) QuoteView {
	v := QuoteView{Currency: q.Currency.Code(), Subtotal: q.Subtotal.StringFixed(), Shipping: q.Shipping.StringFixed(),
		Discount: q.Discount.StringFixed(), Total: q.Total.StringFixed(), Lines: []QuoteLine{}, Discounts: []DiscountView{}, Rejected: []RejectedView{}}
	for _, l := range q.Lines {
		v.Lines = append(v.Lines, QuoteLine{ID: l.ID, Amount: l.Amount.StringFixed(), Discount: l.Discount.StringFixed(), Final: l.Final.StringFixed()})
	}
	for _, d := range q.Discounts {
		v.Discounts = append(v.Discounts, DiscountView{OfferID: d.OfferID, CouponID: d.CouponID, Amount: d.Amount.StringFixed()})
	}
	for _, r := range q.Rejected {
		v.Rejected = append(v.Rejected, RejectedView{OfferID: r.OfferID, Reason: string(r.Reason), Detail: r.Detail})
	}
	return v
}

func (a *App) handlePreview(w http.ResponseWriter, r *http.Request, c Caller, req cartReq) error {
	cart, err := a.cart(req)
	if err != nil {
		return err
	}
	start := time.Now()
	offers, err := a.kit.Orders.Offers(r.Context(), settlement.OffersRequest{Tenant: c.Tenant, UserID: c.Subject, Cart: cart, CouponIDs: req.CouponIDs})
	if err != nil {
		return err
	}
	q, err := settlement.Price(cart, offers, settlement.Options{BestCombination: req.BestCombination})
	a.metrics.pricing.Observe(time.Since(start).Seconds())
	if err != nil {
		return err
	}
	a.writeData(w, r, http.StatusOK, quoteView(q))
	return nil
}

func (a *App) handleCreateOrder(w http.ResponseWriter, r *http.Request, c Caller, req cartReq) error {
	cart, err := a.cart(req)
	if err != nil {
		return err
	}
	a.write(w, r, "orders.create", req, func(ctx context.Context) (int, any, error) {
		start := time.Now()
		offers, err := a.kit.Orders.Offers(ctx, settlement.OffersRequest{Tenant: c.Tenant, UserID: c.Subject, Cart: cart, CouponIDs: req.CouponIDs})
		a.metrics.pricing.Observe(time.Since(start).Seconds())
		if err != nil {
			return 0, nil, err
		}
		o, err := a.kit.Orders.CreateOrder(ctx, settlement.CreateRequest{Tenant: c.Tenant, OrderID: "O" + compactUUID(), UserID: c.Subject,
			Channel: req.Channel, Cart: cart, Offers: offers, Options: settlement.Options{BestCombination: req.BestCombination}})
		return http.StatusCreated, o, err
	})
	return nil
}

// canSee reports whether the caller may read the order: its member, a
// merchant selling on one of its lines, or an admin.
func canSee(c Caller, o settlement.Order) bool {
	switch c.Role {
	case RoleAdmin:
		return true
	case RoleMember:
		return o.UserID == c.Subject
	case RoleMerchant:
		for _, l := range o.Lines {
			if l.Merchant == c.Subject {
				return true
			}
		}
	}
	return false
}

// order reads an order the caller may see; any other is 404, as if it did
// not exist, so order IDs of others cannot be probed.
func (a *App) order(ctx context.Context, c Caller, id string) (settlement.Order, error) {
	if err := checkID("order id", id); err != nil {
		return settlement.Order{}, err
	}
	o, err := a.kit.Orders.Order(ctx, c.Tenant, id)
	if err != nil {
		return o, err
	}
	if !canSee(c, o) {
		return settlement.Order{}, errorf(http.StatusNotFound, "order_not_found", "no order "+id)
	}
	return o, nil
}

func (a *App) handleGetOrder(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.order(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeData(w, r, http.StatusOK, o)
	return nil
}

func (a *App) handleListOrders(w http.ResponseWriter, r *http.Request, c Caller) error {
	q := settlement.OrderQuery{Tenant: c.Tenant, AfterID: r.URL.Query().Get("after"), Limit: 50}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return errorf(http.StatusBadRequest, "invalid_field", "limit must be 1 to 200")
		}
		q.Limit = n
	}
	want := q.Limit
	out := []settlement.Order{}
	// The store pages by ID over the tenant; the caller's orders are
	// filtered from those pages (a host with many orders would index them
	// by member and merchant).
	for scanned := 0; len(out) < want && scanned < 10_000; {
		q.Limit = 200
		page, err := a.store.Settlement().FindOrders(r.Context(), q)
		if err != nil {
			return err
		}
		for _, o := range page {
			if canSee(c, o) && len(out) < want {
				out = append(out, o)
			}
		}
		scanned += len(page)
		if len(page) < q.Limit {
			break
		}
		q.AfterID = page[len(page)-1].ID
	}
	a.writeData(w, r, http.StatusOK, out)
	return nil
}

type payReq struct {
	PaymentRef string  `json:"payment_ref"`
	Amount     Decimal `json:"amount"`
}

func (a *App) handlePay(w http.ResponseWriter, r *http.Request, c Caller, req payReq) error {
	if err := checkID("payment_ref", req.PaymentRef); err != nil {
		return err
	}
	amt, err := req.Amount.amount("amount", a.cfg.Currency, true)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	a.write(w, r, "orders.pay", struct {
		Order string
		Req   payReq
	}{id, req}, func(ctx context.Context) (int, any, error) {
		if _, err := a.order(ctx, c, id); err != nil {
			return 0, nil, err
		}
		o, err := a.kit.Orders.Pay(ctx, settlement.PayRequest{Tenant: c.Tenant, OrderID: id, PaymentRef: req.PaymentRef, Amount: amt})
		return http.StatusOK, o, err
	})
	return nil
}

// lifecycle handles fulfil, complete and cancel of an order the caller may
// see (routes lets the merchants fulfil and complete, the members cancel,
// and admins do all three).
func (a *App) lifecycle(step string) route {
	return func(w http.ResponseWriter, r *http.Request, c Caller) error {
		id := r.PathValue("id")
		a.write(w, r, "orders."+step, id, func(ctx context.Context) (int, any, error) {
			if _, err := a.order(ctx, c, id); err != nil {
				return 0, nil, err
			}
			req := settlement.OrderRequest{Tenant: c.Tenant, OrderID: id, Reason: "by " + string(c.Role) + ":" + c.Subject}
			var o settlement.Order
			var err error
			switch step {
			case "fulfil":
				o, err = a.kit.Orders.Fulfil(ctx, req)
			case "complete":
				o, err = a.kit.Orders.Complete(ctx, req)
			default:
				o, err = a.kit.Orders.Cancel(ctx, req)
			}
			return http.StatusOK, o, err
		})
		return nil
	}
}

type refundReq struct {
	RefundID string       `json:"refund_id"`
	Items    []refundItem `json:"items"`
	Reason   string       `json:"reason,omitempty"`
}

type refundItem struct {
	LineID   string `json:"line_id"`
	Quantity int    `json:"quantity"`
}

func (a *App) handleRefund(w http.ResponseWriter, r *http.Request, c Caller, req refundReq) error {
	if err := checkID("refund_id", req.RefundID); err != nil {
		return err
	}
	if len(req.Items) == 0 || len(req.Items) > 100 || len(req.Reason) > 200 {
		return errorf(http.StatusBadRequest, "invalid_field", "a refund needs 1 to 100 items and a reason of at most 200 bytes")
	}
	items := make([]settlement.RefundItem, len(req.Items))
	for i, it := range req.Items {
		if it.LineID != settlement.ShippingLineID {
			if err := checkID(fmt.Sprintf("items[%d].line_id", i), it.LineID); err != nil {
				return err
			}
		}
		if it.Quantity < 1 {
			return errorf(http.StatusBadRequest, "invalid_field", fmt.Sprintf("items[%d].quantity must be positive", i))
		}
		items[i] = settlement.RefundItem{LineID: it.LineID, Quantity: it.Quantity}
	}
	id := r.PathValue("id")
	a.write(w, r, "orders.refund", struct {
		Order string
		Req   refundReq
	}{id, req}, func(ctx context.Context) (int, any, error) {
		o, err := a.order(ctx, c, id)
		if err != nil {
			return 0, nil, err
		}
		if c.Role == RoleMerchant {
			for _, it := range items {
				if l := o.Line(it.LineID); l == nil || l.Merchant != c.Subject {
					return 0, nil, errorf(http.StatusForbidden, "forbidden", "a merchant refunds only its own lines")
				}
			}
		}
		o, err = a.kit.Orders.Refund(ctx, settlement.RefundRequest{Tenant: c.Tenant, OrderID: id, Key: req.RefundID, Items: items, Reason: req.Reason})
		return http.StatusOK, o, err
	})
	return nil
}

func (a *App) handleStatements(w http.ResponseWriter, r *http.Request, c Caller) error {
	party := r.URL.Query().Get("party")
	switch c.Role {
	case RoleMerchant:
		own := "merchant:" + c.Subject
		if party != "" && party != own {
			return errForbidden
		}
		party = own
	case RoleAdmin:
		if party != "" && !strings.Contains(party, ":") && party != settlement.PartyPlatform {
			return errorf(http.StatusBadRequest, "invalid_field", "party is platform or kind:id")
		}
	default:
		return errForbidden
	}
	sts, err := a.kit.Orders.Statements(r.Context(), c.Tenant, party)
	if err != nil {
		return err
	}
	if sts == nil {
		sts = []settlement.Statement{}
	}
	a.writeData(w, r, http.StatusOK, sts)
	return nil
}

func (a *App) handleRunCycles(w http.ResponseWriter, r *http.Request, c Caller) error {
	res, err := a.kit.Orders.RunCycles(r.Context(), c.Tenant)
	if err != nil {
		return err
	}
	a.writeData(w, r, http.StatusOK, map[string]any{"statements": len(res.Statements), "skipped": res.Skipped})
	return nil
}

// ReconcileView is a reconciliation report.
type ReconcileView struct {
	Orders     int      `json:"orders"`
	Coupons    int      `json:"coupons"`
	Postings   int      `json:"postings"`
	Mismatches []string `json:"mismatches"`
}

func (a *App) handleReconcile(w http.ResponseWriter, r *http.Request, c Caller) error {
	rep, err := a.kit.Orders.Reconcile(r.Context(), c.Tenant)
	if err != nil {
		return err
	}
	v := ReconcileView{Orders: rep.Orders, Coupons: rep.Coupons, Postings: rep.Postings, Mismatches: []string{}}
	for _, m := range rep.Mismatches {
		v.Mismatches = append(v.Mismatches, m.String())
	}
	a.writeData(w, r, http.StatusOK, v)
	return nil
}
