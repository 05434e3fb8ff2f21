package settlement

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// OffersRequest asks for the offer snapshot of a cart: the tenant's
// automatic promotions that fit it and the customer's chosen coupons.
type OffersRequest struct {
	Tenant    storage.TenantID
	UserID    string
	Cart      Cart
	CouponIDs []string // the coupons the customer applied
	// Facts for the coupons' use conditions; order and lines are filled
	// from the cart when empty.
	Facts *rules.Facts
}

// CouponCart converts a cart to what package coupon checks.
func CouponCart(c Cart) coupon.Cart {
	if pl, _, err := c.convert(nil); err == nil {
		return couponCart(c, pl)
	}
	cc := coupon.Cart{Currency: c.Currency, Shipping: c.Shipping, Lines: make([]coupon.Line, 0, len(c.Lines))}
	sub := money.Zero(c.Currency)
	for _, l := range c.Lines {
		amt := l.UnitPrice.Mul(decimalInt(l.Quantity))
		cc.Lines = append(cc.Lines, coupon.Line{SKU: l.SKU, Category: l.Category, Merchant: l.Merchant, Quantity: int64(l.Quantity), Amount: amt})
		sub, _ = sub.Add(amt)
	}
	cc.Subtotal = sub
	if cc.Shipping.Currency().IsZero() {
		cc.Shipping = money.Zero(c.Currency)
	}
	return cc
}

// couponCart is CouponCart for a valid cart and its lines in minor units:
// the amounts are made from integers rather than by decimal arithmetic.
func couponCart(c Cart, pl []pline) coupon.Cart {
	cc := coupon.Cart{Currency: c.Currency, Shipping: c.Shipping, Lines: make([]coupon.Line, len(c.Lines))}
	var sub int64
	for i, l := range c.Lines {
		cc.Lines[i] = coupon.Line{SKU: l.SKU, Category: l.Category, Merchant: l.Merchant, Quantity: int64(l.Quantity),
			Amount: money.FromMinor(pl[i].amount, c.Currency)}
		sub += pl[i].amount // convert checked the sum for overflow
	}
	cc.Subtotal = money.FromMinor(sub, c.Currency)
	if cc.Shipping.Currency().IsZero() {
		cc.Shipping = money.Zero(c.Currency)
	}
	return cc
}

// OfferFromTemplate makes the offer of an automatic promotion (c nil) or
// of a coupon of the template. budgetLeft is what the template's budget has
// left (nil: no budget).
func OfferFromTemplate(t coupon.Template, c *coupon.Coupon, budgetLeft *money.Amount) Offer {
	o := Offer{Source: SourcePromotion, TemplateID: t.ID, Benefit: t.Benefit, Scope: t.Scope, Stacking: t.Stacking,
		Funding: t.Funding, BudgetLeft: budgetLeft, ID: "promotion:" + t.ID}
	if c != nil {
		o.Source, o.CouponID, o.ID, o.Version = SourceCoupon, c.ID, "coupon:"+c.ID, c.Version
	}
	return o
}

// Offers reads the snapshot pricing needs: the automatic promotions that
// fit the cart and the applied coupons, each with what its template's
// budget has left. Pass it to CreateOrder; the coupons' locks re-check the
// budgets atomically.
//
// Errors: ErrInvalidRequest (no coupon service, bad IDs), ErrInvalidCart,
// coupon.ErrUnknownCoupon for a coupon that does not exist or that the
// user does not hold, the rejection's error for an applied coupon that
// does not fit the cart (coupon.ErrNotApplicable, coupon.ErrExpired,
// coupon.ErrLocked, ...), a *coupon.TransitionError matching the state's
// sentinel (coupon.ErrUsed, coupon.ErrLocked, coupon.ErrFrozen,
// coupon.ErrExpired) for a coupon the user holds that is not ACTIVATED,
// coupon and storage errors.
func (s *Service) Offers(ctx context.Context, req OffersRequest) ([]Offer, error) {
	if s.cfg.Coupons == nil {
		return nil, fmt.Errorf("%w: no coupon service configured", ErrInvalidRequest)
	}
	if err := req.Tenant.Validate(); err != nil {
		return nil, err
	}
	if err := validID("user ID", req.UserID); err != nil {
		return nil, err
	}
	pl, _, err := req.Cart.convert(make([]pline, 0, len(req.Cart.Lines)))
	if err != nil {
		return nil, err
	}
	u, err := s.cfg.Coupons.Usable(ctx, coupon.UsableRequest{Tenant: req.Tenant, UserID: req.UserID, Cart: couponCart(req.Cart, pl), Facts: req.Facts})
	if err != nil {
		return nil, err
	}
	promotions := 0
	for i := range u.Usable {
		if u.Usable[i].Coupon == nil {
			promotions++
		}
	}
	out := make([]Offer, 0, promotions+len(req.CouponIDs))
	budget := func(t *coupon.Template) (*money.Amount, error) {
		if t.Limits.Budget.IsZero() {
			return nil, nil
		}
		st, err := s.cfg.Coupons.Stats(ctx, req.Tenant, t.ID)
		if err != nil {
			return nil, err
		}
		left := st.BudgetLeft
		return &left, nil
	}
	for i := range u.Usable { // by index: a candidate is large
		c := &u.Usable[i]
		if c.Coupon != nil {
			continue
		}
		// a promotion's budget is spent by settlement (see budget.go)
		b, err := s.promotionBudgetLeft(ctx, req.Tenant, &c.Template)
		if err != nil {
			return nil, err
		}
		out = append(out, OfferFromTemplate(c.Template, nil, b))
	}
	for _, id := range req.CouponIDs {
		found := false
		for i := range u.Usable {
			c := &u.Usable[i]
			if c.Coupon != nil && c.Coupon.ID == id {
				if c.Coupon.State != coupon.StateActivated {
					return nil, fmt.Errorf("%w: coupon %s is %s", coupon.ErrLocked, id, c.Coupon.State)
				}
				b, err := budget(&c.Template)
				if err != nil {
					return nil, err
				}
				out = append(out, OfferFromTemplate(c.Template, c.Coupon, b))
				found = true
				break
			}
		}
		if found {
			continue
		}
		for i := range u.Unusable {
			if r := &u.Unusable[i]; r.Coupon != nil && r.Coupon.ID == id {
				return nil, fmt.Errorf("settlement: coupon %s: %s: %w", id, r.Reason, r.Err)
			}
		}
		if err := s.heldCouponState(ctx, req.Tenant, req.UserID, id); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s (user %s)", coupon.ErrUnknownCoupon, id, req.UserID)
	}
	if len(out) == 0 {
		return nil, nil // as before the slice was made up front
	}
	return out, nil
}

// heldCouponState explains why a coupon the user holds is neither usable
// nor rejected for the cart: a *coupon.TransitionError from its state
// (coupon.ErrUsed, coupon.ErrLocked, coupon.ErrFrozen, coupon.ErrExpired
// under errors.Is). It returns nil when the coupon does not exist, belongs
// to another user or is ACTIVATED, leaving the caller to report it as
// unknown; a store failure is returned as is.
func (s *Service) heldCouponState(ctx context.Context, tenant storage.TenantID, user, id string) error {
	c, err := s.cfg.Coupons.Coupon(ctx, tenant, id)
	if errors.Is(err, coupon.ErrUnknownCoupon) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.UserID != user || c.State == coupon.StateActivated {
		return nil
	}
	return fmt.Errorf("settlement: coupon %s is %s: %w", id, c.State, &coupon.TransitionError{CouponID: id, From: c.State, Event: coupon.EventLock})
}

// GiftCard pays part of an order from stored value on a ledger account
// (such as a gift card's balance): held at creation, captured at payment.
type GiftCard struct {
	Account string
	Amount  money.Amount
}

// CreateRequest creates an order from a cart and an offer snapshot.
type CreateRequest struct {
	Tenant  storage.TenantID
	OrderID string // the caller's order ID: also the idempotency key
	UserID  string
	Channel string
	Cart    Cart
	// Offers is the snapshot from Service.Offers (or the host's own
	// reading of the same records).
	Offers  []Offer
	Options Options
	// GiftCards pay part of the total; the rest is collected by the
	// host's payment provider and confirmed with Pay.
	GiftCards []GiftCard
}

// CreateOrder prices the cart with the snapshot and, in one transaction,
// charges the automatic promotions' discounts to their budgets (those
// whose snapshot carries BudgetLeft; see Offer), locks the quote's
// coupons for the order (charging their budgets), holds
// the gift card amounts, stores the order as CREATED and appends
// OrderCreated. Creating the same order again with the same request
// returns the stored order; with another request, ErrOrderMismatch.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest (bad IDs, a gift
// card amount that is not positive or exceeds the total, a line with ID
// ShippingLineID, coupons or a budgeted promotion without a coupon
// service); coupon.ErrUnknownTemplate for a budgeted promotion's template; ErrInvalidCart,
// ErrCurrencyMismatch, ErrInvalidOffer, ErrInvalidOptions from pricing;
// ErrRequote when a coupon's or an automatic promotion's budget no longer
// covers its discount (also coupon.ErrBudgetExhausted, for a promotion);
// coupon errors of Lock (coupon.ErrUnknownCoupon, coupon.ErrNotOwner,
// coupon.ErrLocked, ...); ledger errors of Hold
// (ledger.ErrInsufficientFunds, ledger.ErrUnknownAccount); ErrOrderMismatch;
// the Store's errors. Nothing is written on error.
func (s *Service) CreateOrder(ctx context.Context, req CreateRequest) (Order, error) {
	o, err := s.newOrder(req)
	if err != nil {
		return Order{}, err
	}
	// An order without gift cards is final before the transaction, so the
	// transaction inserts it first: a replay finds it there, before
	// anything is written, and the transaction of a new order reads
	// nothing before its writes (the memory store's one lock, SQLite's
	// writer are held for the writes only).
	//
	// An order paid partly by gift cards is stored with the IDs of its
	// holds, so it goes in after them; its replay check reads before the
	// transaction instead. An order created between that read and the
	// insert makes InsertOrder fail with a conflict, and the re-run reads
	// it inside the transaction. Coupon locks and holds for the same order
	// replay their first result, so they cannot fail first.
	cardsFirst := len(o.Tenders) > 1
	checked := false
	if cardsFirst {
		prior, found, err := s.priorOrder(ctx, &o)
		if found || err != nil {
			return prior, err
		}
		checked = true // the read saw no order
	}
	charges, err := s.promotionCharges(ctx, &o, req.Offers)
	if err != nil {
		return Order{}, err
	}
	// OrderCreated is made before the transaction: the order's event
	// depends on nothing the transaction reads or writes.
	created, err := orderMessage(&o, TopicOrderCreated, "OrderCreated", "")
	if err != nil {
		return Order{}, err
	}
	c := &creation{s: s, priced: o, charges: charges, created: []storage.Message{created}, cardsFirst: cardsFirst, checked: checked}
	if enc, ok := s.store.(orderEncoder); ok && !cardsFirst {
		c.encoder, c.encoded = enc, enc.EncodeOrder(&c.priced)
	}
	if err := s.tx.InTx(ctx, c.run); err != nil {
		return Order{}, err
	}
	if c.fresh && s.recent != nil {
		s.recent.put(c.out.Clone()) // for Pay
	}
	// The store keeps a copy of what it inserts (see Store.InsertOrder),
	// and a replay's order is a copy read from it: either way the caller's
	// own.
	return c.out, nil
}

// creation is the transaction of CreateOrder: what it was given, made
// before it, and what it gives back. One allocation for the lot, rather
// than one per variable a closure would capture.
type creation struct {
	s          *Service
	priced     Order // the priced order, as every run starts from it
	charges    []promotionCharge
	created    []storage.Message // OrderCreated
	cardsFirst bool              // gift cards: the holds come before the insert
	checked    bool              // the read before the transaction saw no order
	out        Order             // the order created, or the stored one of a replay
	fresh      bool              // out is the order created
	encoder    orderEncoder      // with encoded, the store's encoding of priced
	encoded    []byte
}

// orderEncoder is an optional fast path of a Store for CreateOrder:
// EncodeOrder does before the transaction the work of InsertOrder(*o)
// that needs none (memory: encoding the order), and InsertEncoded then
// stores o in the transaction in ctx, as InsertOrder would (the same
// errors). Like the coupon store's fast paths it is not part of Store.
type orderEncoder interface {
	EncodeOrder(o *Order) []byte
	InsertEncoded(ctx context.Context, o *Order, enc []byte) error
}

// run is one run of the transaction.
func (c *creation) run(ctx context.Context) error {
	s := c.s
	o := c.priced
	c.fresh = false
	if !c.cardsFirst {
		var err error
		if c.encoder != nil {
			err = c.encoder.InsertEncoded(ctx, &c.priced, c.encoded)
		} else {
			err = s.store.InsertOrder(ctx, o)
		}
		if err != nil {
			if errors.Is(err, storage.ErrDuplicate) {
				c.out, err = s.replayOrder(ctx, &o)
			}
			return err
		}
	} else if !c.checked {
		prior, found, err := s.priorOrder(ctx, &o)
		if found || err != nil {
			c.out = prior
			return err
		}
	}
	// a re-run reads again, and starts again from the priced order
	c.checked = false
	if c.cardsFirst {
		o.Tenders = slices.Clone(o.Tenders) // the holds write their IDs
	}
	if err := s.chargePromotions(ctx, &o, c.charges); err != nil {
		return err
	}
	for _, d := range o.Discounts {
		if d.CouponID == "" {
			continue
		}
		res, err := s.cfg.Coupons.Lock(ctx, coupon.LockRequest{Tenant: o.Tenant, CouponID: d.CouponID, OrderID: o.ID,
			UserID: o.UserID, Until: o.PayBy, Discount: d.Amount, Actor: "settlement"})
		if errors.Is(err, coupon.ErrBudgetExhausted) {
			return fmt.Errorf("%w: coupon %s: %w", ErrRequote, d.CouponID, err)
		}
		if err != nil {
			return err
		}
		if res.Cut || !res.Discount.Equal(d.Amount) {
			return fmt.Errorf("%w: coupon %s: the budget grants %s, the quote %s", ErrRequote, d.CouponID, res.Discount, d.Amount)
		}
	}
	if c.cardsFirst {
		for i := range o.Tenders {
			t := &o.Tenders[i]
			if t.Kind != TenderGiftCard {
				continue
			}
			h, err := s.ledger.Hold(ctx, o.Tenant, ledger.HoldRequest{Key: key(&o, "hold", i), Account: t.Account,
				Destination: ClearingAccount, Amount: t.Amount, Metadata: map[string]string{"order": o.ID}})
			if err != nil {
				return fmt.Errorf("settlement: gift card %s: %w", t.Account, err)
			}
			t.HoldID = h.ID
		}
		if err := s.store.InsertOrder(ctx, o); err != nil {
			if errors.Is(err, storage.ErrDuplicate) {
				// created concurrently: re-run to read it
				return fmt.Errorf("%w: order %s created concurrently", storage.ErrConflict, o.ID)
			}
			return err
		}
	}
	if err := s.cfg.Outbox.AppendOutbox(ctx, c.created...); err != nil {
		return err
	}
	c.out, c.fresh = o, true
	return nil
}

// replayOrder answers a CreateOrder whose insert found the order o's ID
// taken, in the transaction in ctx that has written nothing: the stored
// order when o's request created it, ErrOrderMismatch otherwise, and a
// conflict (the transaction re-runs) when the order is not to be seen
// yet.
func (s *Service) replayOrder(ctx context.Context, o *Order) (Order, error) {
	prior, found, err := s.priorOrder(ctx, o)
	if !found && err == nil {
		return Order{}, fmt.Errorf("%w: order %s created concurrently", storage.ErrConflict, o.ID)
	}
	return prior, err
}

// priorOrder reads the stored order with o's ID: found is false (and err
// nil) when there is none; the stored order when o's request created it
// (the same fingerprint); ErrOrderMismatch when another request did; or
// the Store's error.
func (s *Service) priorOrder(ctx context.Context, o *Order) (prior Order, found bool, err error) {
	prior, err = s.store.Order(ctx, o.Tenant, o.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return Order{}, false, nil
	}
	if err != nil {
		return Order{}, false, err
	}
	if prior.Fingerprint != o.Fingerprint {
		return Order{}, true, fmt.Errorf("%w: order %s", ErrOrderMismatch, o.ID)
	}
	return prior, true, nil
}

// newOrder validates the request and prices it into a CREATED order
// (pure: nothing is read or written).
func (s *Service) newOrder(req CreateRequest) (Order, error) {
	if err := req.Tenant.Validate(); err != nil {
		return Order{}, err
	}
	if err := validID("order ID", req.OrderID); err != nil {
		return Order{}, err
	}
	if err := validID("user ID", req.UserID); err != nil {
		return Order{}, err
	}
	for _, l := range req.Cart.Lines {
		if l.ID == ShippingLineID {
			return Order{}, fmt.Errorf("%w: line ID %q is reserved for the shipping fee", ErrInvalidCart, l.ID)
		}
	}
	e, _, _, err := runEngine(req.Cart, req.Offers, req.Options)
	if err != nil {
		return Order{}, err
	}
	for _, oi := range e.order {
		if e.out[oi].applied && req.Offers[oi].CouponID != "" && s.cfg.Coupons == nil {
			return Order{}, fmt.Errorf("%w: the quote uses coupon %s but no coupon service is configured", ErrInvalidRequest, req.Offers[oi].CouponID)
		}
	}
	now := s.clock.Now()
	cur := req.Cart.Currency
	o := Order{
		Tenant: req.Tenant, ID: req.OrderID, UserID: req.UserID, Channel: req.Channel, Currency: cur, State: StateCreated,
		Split: slices.Clone(s.cfg.Split), PayBy: now.Add(s.cfg.PayTTL), CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	e.fillOrder(&o, req.Offers)
	if err := o.checkSplitParties(); err != nil {
		return Order{}, err
	}
	// tenders: gift cards first in the request's order, the rest paid
	zero := o.Refunded
	cash := o.Total
	var cards []Tender
	for i, g := range req.GiftCards {
		if err := ledger.ValidateAccountID(g.Account); err != nil {
			return Order{}, fmt.Errorf("%w: gift card %d: %w", ErrInvalidRequest, i, err)
		}
		if g.Amount.Currency() != cur {
			return Order{}, fmt.Errorf("%w: gift card %s: %w", ErrCurrencyMismatch, g.Account,
				&money.MismatchError{Op: "tender", Left: cur, Right: g.Amount.Currency()})
		}
		if !g.Amount.IsPositive() || !g.Amount.IsExact() {
			return Order{}, fmt.Errorf("%w: gift card %s amount %s must be positive and exact", ErrInvalidRequest, g.Account, g.Amount)
		}
		if cash, err = cash.Sub(g.Amount); err != nil || cash.IsNegative() {
			return Order{}, fmt.Errorf("%w: gift cards pay more than the total %s", ErrInvalidRequest, o.Total)
		}
		cards = append(cards, Tender{Kind: TenderGiftCard, Account: g.Account, Amount: g.Amount, Refunded: zero})
	}
	o.Tenders = make([]Tender, 0, 1+len(cards))
	o.Tenders = append(append(o.Tenders, Tender{Kind: TenderPayment, Amount: cash, Refunded: zero}), cards...)
	o.Fingerprint = fingerprint(&req)
	return o, nil
}

// fingerprint identifies a creating request: the first 16 bytes of the
// SHA-256 of its fields, each followed by a zero byte, in hex. The fields
// are written into one buffer (on the stack for a usual cart) and hashed
// at once; amounts as StringFixed writes them.
func fingerprint(req *CreateRequest) string {
	var buf [1024]byte
	b := buf[:0]
	field := func(s string) { b = append(append(b, s...), 0) }
	amount := func(a money.Amount) { b = append(a.AppendFixed(b), 0) }
	number := func(v int64) { b = append(strconv.AppendInt(b, v, 10), 0) }
	field(req.UserID)
	field(req.Channel)
	field(req.Cart.Currency.Code())
	amount(req.Cart.Shipping)
	field(req.Cart.ShippingMerchant)
	for _, l := range req.Cart.Lines {
		field(l.ID)
		field(l.SKU)
		field(l.Category)
		field(l.Merchant)
		amount(l.UnitPrice)
		number(int64(l.Quantity))
	}
	for _, o := range req.Offers {
		field(o.ID)
		field(o.CouponID)
		field(o.TemplateID)
		number(o.Version)
	}
	for _, g := range req.GiftCards {
		field(g.Account)
		amount(g.Amount)
	}
	sum := sha256.Sum256(b)
	var out [32]byte
	hex.Encode(out[:], sum[:16])
	return string(out[:])
}

// PayRequest confirms the payment of an order.
type PayRequest struct {
	Tenant  storage.TenantID
	OrderID string
	// PaymentRef is the payment provider's reference; a retried
	// confirmation with the same reference returns the paid order.
	PaymentRef string
	// Amount is what the provider collected: the order's payment tender
	// (Total less the gift cards), in the order's currency.
	Amount money.Amount
}

// Pay confirms payment in one transaction: CREATED -> PAID, the order's
// coupons used, the gift card holds captured into the clearing account,
// the collected amount posted from ledger.World to the clearing account,
// and PaymentSucceeded appended. A retried confirmation with the same
// PaymentRef returns the paid order and writes nothing.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest; ErrOrderNotFound;
// ErrAmountMismatch; *TransitionError (ErrIllegalTransition: cancelled,
// or paid with another reference); coupon errors of Use (a coupon frozen
// meanwhile); ledger errors of Capture; the Store's errors.
func (s *Service) Pay(ctx context.Context, req PayRequest) (Order, error) {
	if err := req.Tenant.Validate(); err != nil {
		return Order{}, err
	}
	if err := validID("order ID", req.OrderID); err != nil {
		return Order{}, err
	}
	if err := validID("payment reference", req.PaymentRef); err != nil {
		return Order{}, err
	}
	// The order is read and checked, and everything the payment writes is
	// made, before the transaction, so that the transaction holds its
	// locks only for the writes. Its first write is the order's,
	// conditional on the version read, so an order changed meanwhile fails
	// it with a conflict before anything else is written, and the re-run
	// reads the order inside the transaction. A replay, a wrong amount or
	// an order that cannot be paid is answered from the read alone.
	//
	// An order this Service created is read from its copy (see
	// recentOrders), but only to pay it: anything else is answered from
	// the stored order.
	pm := &payment{s: s, req: req}
	o, recent := s.recent.take(req.Tenant, req.OrderID)
	var err error
	if recent {
		pm.plan, err = s.planPay(o, &pm.req)
		recent = err == nil && !pm.plan.replay
	}
	if !recent {
		if o, err = s.load(ctx, req.Tenant, req.OrderID); err != nil {
			return Order{}, err
		}
		if pm.plan, err = s.planPay(o, &pm.req); err != nil {
			return Order{}, err
		}
	}
	if pm.plan.replay {
		return o, nil
	}
	if err := s.tx.InTx(ctx, pm.run); err != nil {
		return Order{}, err
	}
	return pm.plan.order, nil
}

// payment is the transaction of Pay, in one allocation.
type payment struct {
	s     *Service
	req   PayRequest
	plan  payPlan
	rerun bool // a run before failed with a retryable error: read the order again
}

// run is one run of the transaction.
func (pm *payment) run(ctx context.Context) error {
	if pm.rerun { // o may be stale, or changed by the run before
		o, err := pm.s.load(ctx, pm.req.Tenant, pm.req.OrderID)
		if err != nil {
			return err
		}
		if pm.plan, err = pm.s.planPay(o, &pm.req); err != nil || pm.plan.replay {
			return err
		}
	}
	pm.rerun = true
	return pm.s.pay(ctx, &pm.plan)
}

// payPlan is a payment made ready outside the transaction: the order as
// paid, its event, the payment's posting and the coupons' use request.
type payPlan struct {
	order  Order // as paid (or, for a replay, as read)
	prev   int64 // the version read
	replay bool  // already paid with this reference: nothing to write
	event  []storage.Message
	cash   *ledger.PreparedTransfer // nil: nothing collected
	use    coupon.OrderRequest
}

// planPay checks the payment of o (as read) and makes what it writes. It
// reads nothing: the ledger transfer of the payment is prepared here
// (ledger.Prepare), so the transaction only commits it. Errors:
// ErrAmountMismatch, *TransitionError, the ledger's errors for a bad
// transfer.
func (s *Service) planPay(o Order, req *PayRequest) (payPlan, error) {
	if o.State != StateCreated && o.PaymentRef == req.PaymentRef {
		return payPlan{order: o, replay: true}, nil
	}
	if !req.Amount.Equal(o.Tenders[0].Amount) {
		return payPlan{}, fmt.Errorf("%w: order %s asks %s, paid %s", ErrAmountMismatch, o.ID, o.Tenders[0].Amount, req.Amount)
	}
	next, err := s.life.next(o.ID, o.State, EventPay)
	if err != nil {
		return payPlan{}, err
	}
	now := s.clock.Now()
	p := payPlan{prev: o.Version}
	o.State, o.PaymentRef, o.PaidAt = next, req.PaymentRef, now
	o.Version++
	o.UpdatedAt = now
	m, err := orderMessage(&o, TopicPaymentSucceeded, "PaymentSucceeded", fixed(o.Total))
	if err != nil {
		return payPlan{}, err
	}
	p.event = []storage.Message{m}
	if cash := o.Tenders[0].Amount; cash.IsPositive() {
		if p.cash, err = s.ledger.Prepare(o.Tenant, ledger.TransferRequest{Key: key(&o, "pay"),
			Postings: []ledger.Posting{{Source: ledger.World, Destination: ClearingAccount, Amount: cash}},
			Metadata: map[string]string{"order": o.ID, "payment_ref": req.PaymentRef}}); err != nil {
			return payPlan{}, err
		}
	}
	if len(o.Coupons) > 0 {
		p.use = coupon.OrderRequest{Tenant: o.Tenant, OrderID: o.ID, Actor: "settlement", Reason: "order " + o.ID + " paid"}
	}
	p.order = o
	return p, nil
}

// pay writes a planned payment in the transaction in ctx. The ledger
// comes last: its transfer writes the balances that every payment of the
// tenant writes (the world's and the clearing account's), and on a
// database each one stays locked until the commit, so nothing else of
// the payment is to be written while they are held.
func (s *Service) pay(ctx context.Context, p *payPlan) error {
	o := &p.order
	if err := s.store.UpdateOrderHead(ctx, *o, p.prev); err != nil {
		return err
	}
	if len(o.Coupons) > 0 {
		if _, err := s.cfg.Coupons.Use(ctx, p.use); err != nil {
			return err
		}
	}
	if err := s.cfg.Outbox.AppendOutbox(ctx, p.event...); err != nil {
		return err
	}
	for i, t := range o.Tenders {
		if t.Kind != TenderGiftCard {
			continue
		}
		if _, err := s.ledger.Capture(ctx, o.Tenant, t.HoldID, ledger.CaptureRequest{Key: key(o, "capture", i),
			Metadata: map[string]string{"order": o.ID}}); err != nil {
			return fmt.Errorf("settlement: gift card %s: %w", t.Account, err)
		}
	}
	if p.cash != nil {
		if _, err := s.ledger.CommitPrepared(ctx, p.cash); err != nil {
			return err
		}
	}
	return nil
}

// OrderRequest names an order for a lifecycle command.
type OrderRequest struct {
	Tenant  storage.TenantID
	OrderID string
	Reason  string
}

func (r OrderRequest) validate() error {
	if err := r.Tenant.Validate(); err != nil {
		return err
	}
	return validID("order ID", r.OrderID)
}

// step runs one lifecycle event in a transaction: load, return the order
// unchanged when it is already in the event's target state (a retry),
// transition, apply, save, emit.
func (s *Service) step(ctx context.Context, req OrderRequest, ev OrderEvent, target OrderState, topic, name string,
	apply func(ctx context.Context, o *Order, now time.Time) error) (Order, error) {
	if err := req.validate(); err != nil {
		return Order{}, err
	}
	var out Order
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		o, err := s.load(ctx, req.Tenant, req.OrderID)
		if err != nil {
			return err
		}
		if o.State == target {
			out = o
			return nil
		}
		next, err := s.life.next(o.ID, o.State, ev)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if apply != nil {
			if err := apply(ctx, &o, now); err != nil {
				return err
			}
		}
		o.State = next
		if err := s.save(ctx, &o, now); err != nil {
			return err
		}
		if err := s.emit(ctx, &o, topic, name, ""); err != nil {
			return err
		}
		out = o
		return nil
	})
	return out, err
}

// Fulfil marks a paid order shipped or delivered (PAID -> FULFILLED) and
// appends OrderFulfilled. Errors: storage.ErrInvalidTenant,
// ErrInvalidRequest, ErrOrderNotFound, *TransitionError, the Store's
// errors.
func (s *Service) Fulfil(ctx context.Context, req OrderRequest) (Order, error) {
	return s.step(ctx, req, EventFulfil, StateFulfilled, TopicOrderFulfilled, "OrderFulfilled", nil)
}

// Complete confirms a fulfilled order (FULFILLED -> COMPLETED) and clears
// it in the same transaction: what is left of its net (units not refunded)
// moves from the clearing account to the parties' payable accounts by the
// order's split, each line's discount charged to its funders, with one
// clearing Entry per party for the statements; OrderCompleted is appended.
//
// Errors: storage.ErrInvalidTenant, ErrInvalidRequest, ErrOrderNotFound,
// *TransitionError, ledger and Store errors.
func (s *Service) Complete(ctx context.Context, req OrderRequest) (Order, error) {
	return s.step(ctx, req, EventComplete, StateCompleted, TopicOrderCompleted, "OrderCompleted", func(ctx context.Context, o *Order, now time.Time) error {
		o.CompletedAt = now
		return s.clear(ctx, o, now)
	})
}

// Cancel cancels an unpaid order (CREATED -> CANCELLED): its coupons are
// released (their budget and per-order counts given back) and its gift
// card holds voided, and OrderCancelled is appended, in one transaction.
// Errors: storage.ErrInvalidTenant, ErrInvalidRequest, ErrOrderNotFound,
// *TransitionError (e.g. already paid), coupon, ledger and Store errors.
func (s *Service) Cancel(ctx context.Context, req OrderRequest) (Order, error) {
	return s.step(ctx, req, EventCancel, StateCancelled, TopicOrderCancelled, "OrderCancelled", func(ctx context.Context, o *Order, now time.Time) error {
		return s.releaseResources(ctx, o, req.Reason)
	})
}

func (s *Service) releaseResources(ctx context.Context, o *Order, reason string) error {
	if err := s.releasePromotions(ctx, o); err != nil {
		return err
	}
	if len(o.Coupons) > 0 {
		if _, err := s.cfg.Coupons.Release(ctx, coupon.OrderRequest{Tenant: o.Tenant, OrderID: o.ID, Actor: "settlement", Reason: reason}); err != nil {
			return err
		}
	}
	for _, t := range o.Tenders {
		if t.HoldID == "" {
			continue
		}
		if _, err := s.ledger.Void(ctx, o.Tenant, t.HoldID); err != nil && !errors.Is(err, ledger.ErrHoldClosed) {
			return fmt.Errorf("settlement: void hold of %s: %w", t.Account, err)
		}
	}
	return nil
}

// Close closes a completed or fully refunded order (-> CLOSED): no more
// refunds. Errors: as Fulfil.
func (s *Service) Close(ctx context.Context, req OrderRequest) (Order, error) {
	return s.step(ctx, req, EventClose, StateClosed, TopicOrderClosed, "OrderClosed", nil)
}

// SweepResult counts what a sweep did.
type SweepResult struct {
	Done    int  // orders moved
	Skipped bool // another instance holds the sweep's lease
}

// CancelExpired cancels up to limit CREATED orders of the tenant whose
// PayBy has passed, each in its own transaction (see Cancel), under a
// storage lease so that one instance sweeps a tenant at a time. An order
// paid or cancelled meanwhile is left alone.
// Errors: storage.ErrInvalidTenant, ErrInvalidRequest (limit < 1), lease
// and Store errors (the count of orders cancelled before is returned).
func (s *Service) CancelExpired(ctx context.Context, tenant storage.TenantID, limit int) (SweepResult, error) {
	if err := tenant.Validate(); err != nil {
		return SweepResult{}, err
	}
	if limit < 1 {
		return SweepResult{}, fmt.Errorf("%w: limit %d", ErrInvalidRequest, limit)
	}
	now := s.clock.Now()
	_, ok, err := s.cfg.Leases.AcquireLease(ctx, "settlement/expire/"+string(tenant), s.cfg.Owner, now, s.cfg.LeaseTTL)
	if err != nil {
		return SweepResult{}, err
	}
	if !ok {
		return SweepResult{Skipped: true}, nil
	}
	orders, err := s.store.FindOrders(ctx, OrderQuery{Tenant: tenant, States: []OrderState{StateCreated}, PayByBefore: now, Limit: limit})
	if err != nil {
		return SweepResult{}, err
	}
	var res SweepResult
	for _, o := range orders {
		_, err := s.Cancel(ctx, OrderRequest{Tenant: tenant, OrderID: o.ID, Reason: "payment timeout"})
		var te *TransitionError
		if errors.As(err, &te) || errors.Is(err, storage.ErrConflict) {
			continue // paid or cancelled meanwhile
		}
		if err != nil {
			return res, err
		}
		res.Done++
	}
	return res, nil
}

// clear moves what is left of the order's net from the clearing account to
// the parties' payables and records the entries.
func (s *Service) clear(ctx context.Context, o *Order, now time.Time) error {
	weights := splitWeights(o.Split)
	var shares partyTotals
	var total int64
	o.ClearedUnits = make([]int, len(o.Lines))
	for i := range o.Lines {
		l := &o.Lines[i]
		o.ClearedUnits[i] = l.RefundedQty
		if l.RefundedQty == l.Quantity {
			continue
		}
		c, err := o.calc(i)
		if err != nil {
			return err
		}
		if err := o.rangeShares(i, l.RefundedQty, l.Quantity, c, weights, &shares); err != nil {
			return err
		}
		total += c.netOf(l.RefundedQty, l.Quantity)
	}
	o.Cleared = true
	legs := []ledger.Leg{}
	if total != 0 {
		legs = append(legs, ledger.Leg{Account: ClearingAccount, Amount: money.FromMinor(-total, o.Currency)})
	}
	return s.postShares(ctx, o, now, key(o, "clear"), EntryClearing, legs, &shares, 1)
}

// postShares posts legs plus one leg per party share (sign times the
// share) to the parties' payable accounts, and records one entry per
// party.
func (s *Service) postShares(ctx context.Context, o *Order, now time.Time, txKey string, kind EntryKind, legs []ledger.Leg, shares *partyTotals, sign int64) error {
	var entries []Entry
	var accounts []string
	for i, p := range shares.parties {
		v := sign * shares.amounts[i]
		if v == 0 {
			continue
		}
		acc := PayableAccount(p)
		accounts = append(accounts, acc)
		amt := money.FromMinor(v, o.Currency)
		legs = append(legs, ledger.Leg{Account: acc, Amount: amt})
		entries = append(entries, Entry{Tenant: o.Tenant, ID: txKey + ":" + p, Party: p, OrderID: o.ID, Kind: kind,
			Amount: amt, TxKey: txKey, Coupon: len(o.Coupons) > 0, At: now})
	}
	if err := s.ensureUnbounded(ctx, o.Tenant, accounts...); err != nil {
		return err
	}
	if len(legs) > 0 {
		if _, err := s.ledger.Transfer(ctx, o.Tenant, ledger.TransferRequest{Key: txKey, Legs: legs,
			Metadata: map[string]string{"order": o.ID, "kind": string(kind)}}); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		return s.store.InsertEntries(ctx, entries...)
	}
	return nil
}
