package settlement

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/looplab/fsm"

	"github.com/rewardkit/rewardkit/internal/fsmtable"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// OrderState is where an order is in its lifecycle.
type OrderState string

// The order states.
const (
	// StateCreated: priced, coupons locked and gift cards held; waiting
	// for payment until PayBy.
	StateCreated OrderState = "CREATED"
	// StatePaid: paid; coupons used, holds captured, money in clearing.
	StatePaid OrderState = "PAID"
	// StateFulfilled: shipped or delivered.
	StateFulfilled OrderState = "FULFILLED"
	// StateCompleted: confirmed; the net amount is cleared to the parties.
	StateCompleted OrderState = "COMPLETED"
	// StateCancelled: cancelled before payment (by the user or a timeout);
	// coupons released, holds voided. Final.
	StateCancelled OrderState = "CANCELLED"
	// StateRefunding: a refund is being applied. A refund runs in one
	// transaction, so the state is passed through and only shows in the
	// lifecycle table and in events: a partial refund returns the order to
	// the state it was in, a refund that leaves nothing goes on to
	// REFUNDED.
	StateRefunding OrderState = "REFUNDING"
	// StateRefunded: everything was refunded.
	StateRefunded OrderState = "REFUNDED"
	// StateClosed: closed for good (after a full refund, or a completed
	// order whose after-sale window is over). Final.
	StateClosed OrderState = "CLOSED"
)

// OrderStates lists every state, in lifecycle order.
func OrderStates() []OrderState {
	return []OrderState{StateCreated, StatePaid, StateFulfilled, StateCompleted, StateCancelled,
		StateRefunding, StateRefunded, StateClosed}
}

// Valid reports whether s is one of the declared states.
func (s OrderState) Valid() bool {
	for _, v := range OrderStates() {
		if v == s {
			return true
		}
	}
	return false
}

// OrderEvent is a lifecycle event of an order.
type OrderEvent string

// The order events.
const (
	EventPay      OrderEvent = "pay"      // CREATED -> PAID
	EventFulfil   OrderEvent = "fulfil"   // PAID -> FULFILLED
	EventComplete OrderEvent = "complete" // FULFILLED -> COMPLETED
	EventCancel   OrderEvent = "cancel"   // CREATED -> CANCELLED
	EventRefund   OrderEvent = "refund"   // PAID, FULFILLED, COMPLETED -> REFUNDING
	EventRefunded OrderEvent = "refunded" // REFUNDING -> REFUNDED: nothing left
	// EventResume ends a partial refund: REFUNDING -> the state the refund
	// started from.
	EventResume OrderEvent = "resume"
	EventClose  OrderEvent = "close" // COMPLETED, REFUNDED -> CLOSED
)

// orderTransitions is the lifecycle table. EventResume is listed once per
// target; transition picks the one matching the state a refund started
// from.
func orderTransitions() fsm.Events {
	return fsm.Events{
		{Name: string(EventPay), Src: []string{string(StateCreated)}, Dst: string(StatePaid)},
		{Name: string(EventFulfil), Src: []string{string(StatePaid)}, Dst: string(StateFulfilled)},
		{Name: string(EventComplete), Src: []string{string(StateFulfilled)}, Dst: string(StateCompleted)},
		{Name: string(EventCancel), Src: []string{string(StateCreated)}, Dst: string(StateCancelled)},
		{Name: string(EventRefund), Src: []string{string(StatePaid), string(StateFulfilled), string(StateCompleted)}, Dst: string(StateRefunding)},
		{Name: string(EventRefunded), Src: []string{string(StateRefunding)}, Dst: string(StateRefunded)},
		{Name: string(EventClose), Src: []string{string(StateCompleted), string(StateRefunded)}, Dst: string(StateClosed)},
	}
}

// Transition returns the state an order in state from moves to on event
// ev, by the lifecycle table (EventResume, which returns to the state a
// partial refund started from, is applied by Refund only). It returns a
// *TransitionError (ErrIllegalTransition) when the table does not allow
// the event in from.
func Transition(from OrderState, ev OrderEvent) (OrderState, error) {
	return transition("", from, ev)
}

// transition runs one event on a short-lived FSM built from the stored
// state, and returns the new state or a *TransitionError.
func transition(orderID string, from OrderState, ev OrderEvent) (OrderState, error) {
	if to, ok := fsmtable.Fire(from, orderTransitions(), string(ev)); ok {
		return to, nil
	}
	return from, &TransitionError{OrderID: orderID, From: from, Event: ev}
}

// lifecycle is the lifecycle table above read once, when a Service is
// made (fsmtable.Build): the fsm.Events stay the one source of truth, and
// a command looks its transition up instead of building an FSM (1.5 us
// and 10 allocations each).
type lifecycle struct{ fsmtable.Table[OrderState] }

func newLifecycle() lifecycle { return lifecycle{fsmtable.Build(OrderStates(), orderTransitions())} }

// next is the table's answer to transition.
func (l lifecycle) next(orderID string, from OrderState, ev OrderEvent) (OrderState, error) {
	if to, ok := l.Next(from, string(ev)); ok {
		return to, nil
	}
	return from, &TransitionError{OrderID: orderID, From: from, Event: ev}
}

// resume is the end of a partial refund: REFUNDING back to the state the
// refund started from, checked against the same table (that state must
// allow a refund).
func (l lifecycle) resume(orderID string, to OrderState) (OrderState, error) {
	if _, ok := l.Next(to, string(EventRefund)); !ok {
		return "", &TransitionError{OrderID: orderID, From: StateRefunding, Event: EventResume}
	}
	return to, nil
}

// ShippingLineID is the ID of the order line that carries the shipping
// fee. Cart lines may not use it.
const ShippingLineID = "#shipping"

// Order is a priced cart on its way through payment, fulfilment, clearing
// and refunds. The business identity (Tenant) travels with it into every
// ledger posting, coupon command, clearing entry and statement.
type Order struct {
	Tenant  storage.TenantID `json:"tenant"`
	ID      string           `json:"id"`
	UserID  string           `json:"user_id"`
	Channel string           `json:"channel,omitempty"`
	// Currency of every amount of the order.
	Currency money.Currency `json:"-"`
	State    OrderState     `json:"state"`
	// Lines are the cart lines after discounts, then the shipping fee as a
	// line with ID ShippingLineID when there is one.
	Lines []OrderLine `json:"lines"`
	// Discounts are the discounts that applied, as the quote gave them.
	Discounts []AppliedDiscount `json:"discounts,omitempty"`
	// Coupons are the coupons locked for (then used by) the order.
	Coupons []string `json:"coupons,omitempty"`

	Subtotal money.Amount `json:"subtotal"` // lines before discounts, shipping included
	Discount money.Amount `json:"discount"`
	Total    money.Amount `json:"total"` // what the customer pays
	// Tenders say how Total is paid: the first is the payment collected by
	// the host's payment provider (possibly zero), the others gift cards
	// held at creation and captured at payment.
	Tenders    []Tender `json:"tenders"`
	PaymentRef string   `json:"payment_ref,omitempty"`
	// Split is the clearing split in force when the order was created.
	Split []Share `json:"split"`
	// Cleared says the order's net was split to the parties (at
	// completion); ClearedUnits how many units of each line were cleared.
	Cleared      bool  `json:"cleared,omitempty"`
	ClearedUnits []int `json:"cleared_units,omitempty"`

	Refunded money.Amount `json:"refunded"`
	Refunds  []Refund     `json:"refunds,omitempty"`

	// Fingerprint identifies the creating request, for idempotency.
	Fingerprint string    `json:"fingerprint"`
	PayBy       time.Time `json:"pay_by"`
	CreatedAt   time.Time `json:"created_at"`
	PaidAt      time.Time `json:"paid_at,omitzero"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int64     `json:"version"`
}

// OrderLine is one line of an order after discounts.
type OrderLine struct {
	ID        string       `json:"id"`
	SKU       string       `json:"sku,omitempty"`
	Category  string       `json:"category,omitempty"`
	Merchant  string       `json:"merchant,omitempty"`
	UnitPrice money.Amount `json:"unit_price"`
	Quantity  int          `json:"quantity"`
	Amount    money.Amount `json:"amount"`   // UnitPrice * Quantity
	Discount  money.Amount `json:"discount"` // every discount's part on the line
	Net       money.Amount `json:"net"`      // Amount - Discount: what the line was paid
	// Funding says who funds Discount, per party (they sum to Discount).
	Funding []FundingPart `json:"funding,omitempty"`
	// RefundedQty units were refunded, for RefundedAmount.
	RefundedQty    int          `json:"refunded_qty,omitempty"`
	RefundedAmount money.Amount `json:"refunded_amount"`
}

// AppliedDiscount is a discount of the order.
type AppliedDiscount struct {
	OfferID    string        `json:"offer_id"`
	CouponID   string        `json:"coupon_id,omitempty"`
	TemplateID string        `json:"template_id,omitempty"`
	Amount     money.Amount  `json:"amount"`
	Funding    []FundingPart `json:"funding,omitempty"`
	// Budgeted says an automatic promotion's Amount was charged to its
	// template's budget when the order was created (given back when the
	// order is cancelled or fully refunded).
	Budgeted bool `json:"budgeted,omitempty"`
}

// TenderKind says how part of an order is paid.
type TenderKind string

// The tender kinds.
const (
	TenderPayment  TenderKind = "payment"   // collected by the host's payment provider
	TenderGiftCard TenderKind = "gift_card" // stored value on a ledger account
)

// Tender is one way part of the order total is paid.
type Tender struct {
	Kind TenderKind `json:"kind"`
	// Account is the gift card's ledger account (empty for a payment).
	Account string       `json:"account,omitempty"`
	Amount  money.Amount `json:"amount"`
	// HoldID is the ledger hold placed at creation (gift cards).
	HoldID   string       `json:"hold_id,omitempty"`
	Refunded money.Amount `json:"refunded"`
}

// Refund is one refund of an order.
type Refund struct {
	Seq    int          `json:"seq"` // 1, 2, ...
	Key    string       `json:"key"` // the caller's idempotency key
	Lines  []RefundLine `json:"lines"`
	Amount money.Amount `json:"amount"`
	// Tenders holds what went back to each tender, by the order's tender
	// index.
	Tenders []money.Amount `json:"tenders"`
	// Clawback is what each party gave back of what clearing paid it
	// (only for orders already cleared).
	Clawback []PartyAmount `json:"clawback,omitempty"`
	// AfterClearing says the order was cleared when the refund ran, so
	// the money came back from the parties rather than the clearing
	// account.
	AfterClearing bool      `json:"after_clearing,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	At            time.Time `json:"at"`
}

// RefundLine is the units of one line a refund returned, and their
// amount.
type RefundLine struct {
	LineID   string       `json:"line_id"`
	Quantity int          `json:"quantity"`
	Amount   money.Amount `json:"amount"`
}

// PartyAmount is an amount for one party.
type PartyAmount struct {
	Party  string       `json:"party"`
	Amount money.Amount `json:"amount"`
}

// Line returns the order line with the ID, or nil.
func (o *Order) Line(id string) *OrderLine {
	for i := range o.Lines {
		if o.Lines[i].ID == id {
			return &o.Lines[i]
		}
	}
	return nil
}

// Refundable returns what is left to refund.
func (o *Order) Refundable() money.Amount {
	r, _ := o.Total.Sub(o.Refunded)
	return r
}

// Clone returns a deep copy of o. The funding parts of every line and
// discount share one new backing array (each view capped at its own
// length, so an append to one never writes into the next): an order is
// copied on every store read and write, and the allocations add up.
func (o Order) Clone() Order {
	c := o
	n := 0
	for i := range o.Lines {
		n += len(o.Lines[i].Funding)
	}
	for i := range o.Discounts {
		n += len(o.Discounts[i].Funding)
	}
	var parts []FundingPart
	if n > 0 {
		parts = make([]FundingPart, 0, n)
	}
	share := func(f []FundingPart) []FundingPart {
		if f == nil {
			return nil
		}
		start := len(parts)
		parts = append(parts, f...)
		return parts[start:len(parts):len(parts)]
	}
	if o.Lines != nil {
		c.Lines = slices.Clone(o.Lines) // one copy of the lines, then the funding lists re-pointed
		for i := range c.Lines {
			c.Lines[i].Funding = share(c.Lines[i].Funding)
		}
	}
	if o.Discounts != nil {
		c.Discounts = slices.Clone(o.Discounts)
		for i := range c.Discounts {
			c.Discounts[i].Funding = share(c.Discounts[i].Funding)
		}
	}
	c.Coupons = slices.Clone(o.Coupons)
	c.Tenders = slices.Clone(o.Tenders)
	c.Split = slices.Clone(o.Split)
	c.ClearedUnits = slices.Clone(o.ClearedUnits)
	if o.Refunds != nil {
		c.Refunds = make([]Refund, len(o.Refunds))
		for i, r := range o.Refunds {
			r.Lines = slices.Clone(r.Lines)
			r.Tenders = slices.Clone(r.Tenders)
			r.Clawback = slices.Clone(r.Clawback)
			c.Refunds[i] = r
		}
	}
	return c
}

// currencyJSON is a currency's JSON form.
type currencyJSON struct {
	Code  string `json:"code"`
	Scale int32  `json:"scale"`
}

type orderAlias Order

// MarshalJSON writes the order with its currency as {"code","scale"}.
func (o Order) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		orderAlias
		Currency currencyJSON `json:"currency"`
	}{orderAlias(o), currencyJSON{o.Currency.Code(), o.Currency.Scale()}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (o *Order) UnmarshalJSON(b []byte) error {
	var v struct {
		orderAlias
		Currency currencyJSON `json:"currency"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	c, err := money.NewCurrency(v.Currency.Code, v.Currency.Scale)
	if err != nil {
		return fmt.Errorf("settlement: order currency: %w", err)
	}
	*o = Order(v.orderAlias)
	o.Currency = c
	return nil
}

// minor converts an amount of the order's currency to minor units; the
// order's own amounts are always exact.
func minor(a money.Amount) int64 {
	v, err := a.Minor()
	if err != nil {
		panic(fmt.Sprintf("settlement: inexact stored amount %s: %v", a, err))
	}
	return v
}

// validID checks an ID of the caller.
func validID(what, id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: %s must be 1 to 128 bytes", ErrInvalidRequest, what)
	}
	return nil
}
