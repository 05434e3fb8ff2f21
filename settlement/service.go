package settlement

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/storage"
)

// Ledger accounts of settlement (per tenant, as every ledger account).
const (
	// ClearingAccount holds what customers paid for orders not yet
	// cleared to the parties.
	ClearingAccount = "settlement:clearing"
	// PayoutAccount receives each statement's total from the party's
	// payable account when the statement is issued: what the host owes
	// (or, negative, is owed) in payouts.
	PayoutAccount = "settlement:payout"
)

// Config wires a Service. Store, Tx and Ledger are required.
type Config struct {
	Store  Store
	Tx     storage.Transactor
	Ledger *ledger.Ledger
	// Coupons locks, uses, releases and refunds the orders' coupons, and
	// builds offer snapshots (Offers). Nil: orders cannot use coupons.
	Coupons *coupon.Service
	// CouponStore lets Reconcile list coupons; nil skips the coupon
	// checks that need a listing.
	CouponStore coupon.Store
	// Outbox and Leases default to Tx when it implements them.
	Outbox storage.OutboxStore
	Leases storage.LeaseStore
	// Counters holds what automatic promotions with a budget have spent
	// (charged at order creation, given back on cancel and full refund);
	// default Tx when it implements storage.CounterStore.
	Counters storage.CounterStore
	Clock    storage.Clock // default storage.SystemClock
	// Split is the clearing split; default the merchant takes all.
	Split []Share
	// Cycles say when each party is settled; default T+1 for every party.
	Cycles []Cycle
	// TimeZone returns the IANA time zone a tenant's settlement days and
	// months are counted in; nil or "" means UTC.
	TimeZone func(storage.TenantID) string
	// Review decides whether a new statement is held for review (a risk
	// rule: cash-out suspicion, a high total). Nil: never held. See
	// ReviewRules.
	Review ReviewFunc
	// PayTTL is how long a created order waits for payment before the
	// timeout sweep may cancel it; default 15 minutes.
	PayTTL time.Duration
	// Owner names this instance in leases; default a random ID.
	Owner string
	// LeaseTTL bounds one sweep or cycle round; default 1 minute.
	LeaseTTL time.Duration
	// RecentOrders is how many of the orders it created a Service keeps
	// a copy of until they are paid, so that Pay on the instance that
	// created the order reads nothing before its transaction (a copy
	// changed meanwhile by another instance fails the payment's versioned
	// write, and the order is read again). Zero means DefaultRecentOrders;
	// a negative value keeps none.
	RecentOrders int
}

// Validate reports every problem of c (after defaults), joined, each
// wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: no Store", ErrInvalidConfig))
	}
	if c.Tx == nil {
		errs = append(errs, fmt.Errorf("%w: no Tx", ErrInvalidConfig))
	}
	if c.Ledger == nil {
		errs = append(errs, fmt.Errorf("%w: no Ledger", ErrInvalidConfig))
	}
	if c.Outbox == nil {
		errs = append(errs, fmt.Errorf("%w: no Outbox (and Tx is not one)", ErrInvalidConfig))
	}
	if c.Leases == nil {
		errs = append(errs, fmt.Errorf("%w: no Leases (and Tx is not one)", ErrInvalidConfig))
	}
	if err := ValidateSplit(c.Split); err != nil {
		errs = append(errs, err)
	}
	for _, cy := range c.Cycles {
		if err := cy.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.PayTTL < 0 || c.LeaseTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: negative PayTTL or LeaseTTL", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Outbox == nil {
		c.Outbox, _ = c.Tx.(storage.OutboxStore)
	}
	if c.Leases == nil {
		c.Leases, _ = c.Tx.(storage.LeaseStore)
	}
	if c.Counters == nil {
		c.Counters, _ = c.Tx.(storage.CounterStore)
	}
	if c.Clock == nil {
		c.Clock = storage.SystemClock{}
	}
	if len(c.Split) == 0 {
		c.Split = []Share{{Party: PartyMerchant, Ratio: one}}
	}
	if len(c.Cycles) == 0 {
		c.Cycles = []Cycle{{Party: "*", Kind: CycleDaily, Days: 1}}
	}
	if c.PayTTL == 0 {
		c.PayTTL = 15 * time.Minute
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = time.Minute
	}
	if c.RecentOrders == 0 {
		c.RecentOrders = DefaultRecentOrders
	}
	if c.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.Owner = "settlement-" + hex.EncodeToString(b[:])
	}
	return c
}

// Service carries orders from checkout to settlement: the order lifecycle,
// payment and refunds, clearing, settlement cycles and statements, and
// reconciliation. It is safe for concurrent use, also by many host
// instances over one database: orders are written with conditional
// updates on their version, statements are unique per party and period,
// and background work runs under storage leases.
type Service struct {
	cfg    Config
	store  Store
	tx     storage.Transactor
	ledger *ledger.Ledger
	clock  storage.Clock
	life   lifecycle
	recent *recentOrders // nil: none kept

	// accounts caches the (tenant, account) pairs seen open with an
	// unbounded overdraft; a cache of facts read from the ledger, not a
	// guard of any invariant.
	accounts sync.Map
}

// New returns a Service, or the problems of cfg (ErrInvalidConfig).
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// The Service's own copy of the split, never written, so that a
	// caller changing its Config afterwards changes no order (each order
	// gets a copy of it, its record of the split in force).
	cfg.Split = slices.Clone(cfg.Split)
	return &Service{cfg: cfg, store: cfg.Store, tx: cfg.Tx, ledger: cfg.Ledger, clock: cfg.Clock,
		life: newLifecycle(), recent: newRecentOrders(cfg.RecentOrders)}, nil
}

// Topics of the outbox messages; the payload's "event" names the domain
// event (OrderCreated, PaymentSucceeded, ...).
const (
	TopicOrderCreated      = "settlement.order.created"
	TopicPaymentSucceeded  = "settlement.order.paid"
	TopicOrderFulfilled    = "settlement.order.fulfilled"
	TopicOrderCompleted    = "settlement.order.completed"
	TopicOrderCancelled    = "settlement.order.cancelled"
	TopicOrderRefunded     = "settlement.order.refunded"
	TopicOrderClosed       = "settlement.order.closed"
	TopicStatementIssued   = "settlement.statement.issued"
	TopicStatementHeld     = "settlement.statement.held"
	TopicStatementReleased = "settlement.statement.released"

	AggregateOrder     = "settlement.order"
	AggregateStatement = "settlement.statement"
)

// orderEvent is the payload of an order's outbox message.
type orderEvent struct {
	Event    string           `json:"event"`
	Tenant   storage.TenantID `json:"tenant"`
	OrderID  string           `json:"order_id"`
	UserID   string           `json:"user_id"`
	State    OrderState       `json:"state"`
	Currency string           `json:"currency"`
	Total    string           `json:"total"`
	Amount   string           `json:"amount,omitempty"` // a refund's amount
	Version  int64            `json:"version"`
	At       time.Time        `json:"at"`
}

// emit appends an order event to the outbox.
func (s *Service) emit(ctx context.Context, o *Order, topic, name, amount string) error {
	m, err := orderMessage(o, topic, name, amount)
	if err != nil {
		return err
	}
	return s.cfg.Outbox.AppendOutbox(ctx, m)
}

// orderMessage is the outbox message of an order event: o as it is
// written, name the domain event, amount a refund's amount. It reads
// nothing, so that a command can make it before its transaction.
func orderMessage(o *Order, topic, name, amount string) (storage.Message, error) {
	b, err := appendOrderEvent(make([]byte, 0, 256), &orderEvent{Event: name, Tenant: o.Tenant, OrderID: o.ID, UserID: o.UserID, State: o.State,
		Currency: o.Currency.Code(), Total: fixed(o.Total), Amount: amount, Version: o.Version, At: o.UpdatedAt})
	if err != nil {
		return storage.Message{}, err
	}
	return storage.Message{
		EventID: orderEventID(o), Tenant: o.Tenant, Topic: topic,
		AggregateType: AggregateOrder, AggregateID: o.ID, Payload: b, CreatedAt: o.UpdatedAt,
	}, nil
}

// orderEventID is the outbox event ID of o's event at its version:
// "tenant/order/ID/version".
func orderEventID(o *Order) string {
	var buf [192]byte
	b := append(buf[:0], o.Tenant...)
	b = append(b, "/order/"...)
	b = append(b, o.ID...)
	b = append(b, '/')
	b = strconv.AppendInt(b, o.Version, 10)
	return string(b)
}

type accountKey struct {
	tenant  storage.TenantID
	account string
}

// ensureUnbounded makes sure the accounts exist with an unbounded
// overdraft (payables and the payout account go below zero when a party
// owes). It joins the transaction in ctx.
func (s *Service) ensureUnbounded(ctx context.Context, tenant storage.TenantID, accounts ...string) error {
	for _, id := range accounts {
		k := accountKey{tenant, id}
		if _, ok := s.accounts.Load(k); ok {
			continue
		}
		a, err := s.ledger.Account(ctx, tenant, id)
		if err == nil && a.Overdraft.Kind == ledger.UnboundedOverdraft {
			s.accounts.Store(k, true)
			continue
		}
		if err != nil && !errors.Is(err, ledger.ErrUnknownAccount) {
			return err
		}
		if _, err := s.ledger.OpenAccount(ctx, tenant, ledger.Account{ID: id, Overdraft: ledger.Overdraft{Kind: ledger.UnboundedOverdraft},
			Metadata: map[string]string{"opened_by": "settlement"}}); err != nil {
			return err
		}
	}
	return nil
}

// load reads an order, mapping storage.ErrNotFound to ErrOrderNotFound.
func (s *Service) load(ctx context.Context, tenant storage.TenantID, id string) (Order, error) {
	o, err := s.store.Order(ctx, tenant, id)
	if errors.Is(err, storage.ErrNotFound) {
		return Order{}, fmt.Errorf("%w: %s", ErrOrderNotFound, id)
	}
	return o, err
}

// save writes o at the next version.
func (s *Service) save(ctx context.Context, o *Order, now time.Time) error {
	prev := o.Version
	o.Version++
	o.UpdatedAt = now
	return s.store.UpdateOrder(ctx, *o, prev)
}

// Order returns an order. Errors: storage.ErrInvalidTenant,
// ErrInvalidRequest, ErrOrderNotFound, the Store's errors.
func (s *Service) Order(ctx context.Context, tenant storage.TenantID, id string) (Order, error) {
	if err := tenant.Validate(); err != nil {
		return Order{}, err
	}
	if err := validID("order ID", id); err != nil {
		return Order{}, err
	}
	return s.load(ctx, tenant, id)
}

// key names a ledger transaction of the order: "order:ID:part:...".
func key(o *Order, parts ...any) string {
	b := make([]byte, 0, 64)
	b = append(b, "order:"...)
	b = append(b, o.ID...)
	for _, p := range parts {
		b = append(b, ':')
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			b = fmt.Append(b, v)
		}
	}
	return string(b)
}
