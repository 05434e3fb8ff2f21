package coupon

import (
	"context"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Coupon is one issued coupon: a template's benefit held by a user (or, for
// a generated code not yet redeemed, by nobody).
type Coupon struct {
	Tenant     storage.TenantID `json:"tenant"`
	ID         string           `json:"id"`
	TemplateID string           `json:"template_id"`
	UserID     string           `json:"user_id,omitempty"` // empty while UNACTIVATED
	Code       string           `json:"code,omitempty"`    // canonical form (no separators), for coded coupons
	State      State            `json:"state"`
	FrozenFrom State            `json:"frozen_from,omitempty"` // the state Unfreeze returns to

	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"` // zero: open (codes not yet redeemed with relative validity)

	// The order it is locked for, used by or refunded with (empty when
	// ACTIVATED), and the lock's expiry.
	OrderID     string    `json:"order_id,omitempty"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// Discount is the discount granted at lock, after any budget cut;
	// BudgetCut says it was cut.
	Discount  money.Amount `json:"discount,omitzero"`
	BudgetCut bool         `json:"budget_cut,omitempty"`

	IssuedAt  time.Time `json:"issued_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version grows with every change; the store updates on (ID, State,
	// Version) so that concurrent commands cannot both win.
	Version int64 `json:"version"`
}

// AuditEntry records one lifecycle transition: who did what, why, when,
// from which state to which. The same change goes to the outbox.
type AuditEntry struct {
	Tenant     storage.TenantID `json:"tenant"`
	EventID    string           `json:"event_id"` // also the outbox message's EventID
	CouponID   string           `json:"coupon_id"`
	TemplateID string           `json:"template_id"`
	UserID     string           `json:"user_id,omitempty"`
	Event      Event            `json:"event"`
	From       State            `json:"from"`
	To         State            `json:"to"`
	Actor      string           `json:"actor,omitempty"`
	Reason     string           `json:"reason,omitempty"`
	OrderID    string           `json:"order_id,omitempty"`
	At         time.Time        `json:"at"`
}

// Query selects coupons of one tenant. Empty fields do not filter. Results
// are ordered by ID; page with AfterID and Limit.
type Query struct {
	Tenant     storage.TenantID
	UserID     string
	TemplateID string
	OrderID    string
	States     []State
	// LockedBefore keeps coupons whose LockedUntil is before it.
	LockedBefore time.Time
	// ValidBefore keeps coupons with a ValidUntil at or before it.
	ValidBefore time.Time
	AfterID     string
	Limit       int // 0: no limit
}

// DistributionStatus is the state of a batch distribution.
type DistributionStatus string

// Distribution statuses.
const (
	DistributionRunning   DistributionStatus = "running"
	DistributionDone      DistributionStatus = "done"
	DistributionExhausted DistributionStatus = "exhausted" // the template ran out of stock
)

// Distribution is a batch of coupons of one template given to a list of
// users. It is resumable: Next is the index of the first user not yet
// handled, saved after every batch, and every user's claim is idempotent,
// so running it again after a crash gives no user a second coupon.
type Distribution struct {
	Tenant     storage.TenantID   `json:"tenant"`
	ID         string             `json:"id"`
	TemplateID string             `json:"template_id"`
	Users      []string           `json:"users"`
	Next       int                `json:"next"`
	Issued     int                `json:"issued"`  // users who got a coupon
	Skipped    int                `json:"skipped"` // users refused by the per-user limit or a condition
	Status     DistributionStatus `json:"status"`
	// Failures keeps the first refusals (user and reason), at most 100.
	Failures  []DistributionFailure `json:"failures,omitempty"`
	CreatedAt time.Time             `json:"created_at"`
	UpdatedAt time.Time             `json:"updated_at"`
	Version   int64                 `json:"version"`
}

// DistributionFailure is one user a distribution could not serve.
type DistributionFailure struct {
	UserID string `json:"user_id"`
	Reason string `json:"reason"`
}

// Store is what package coupon needs from a database. Adapters in
// storage/memory and storage/sqlstore implement it; storagetest checks
// them. Every method joins the transaction in ctx (storage.Transactor) and
// scopes every record by tenant. Errors are the storage sentinels:
// storage.ErrNotFound, storage.ErrDuplicate, storage.ErrConflict,
// storage.ErrInvalidTenant.
type Store interface {
	// CreateTemplate stores a new template; ErrDuplicate when its ID exists.
	CreateTemplate(ctx context.Context, t Template) error
	// Template returns a template; ErrNotFound.
	Template(ctx context.Context, tenant storage.TenantID, id string) (Template, error)
	// AutoTemplates returns the tenant's automatic promotions, by ID.
	AutoTemplates(ctx context.Context, tenant storage.TenantID) ([]Template, error)

	// InsertCoupons stores new coupons of one tenant. A coupon whose ID or
	// code is taken is not stored and its index is returned in rejected;
	// the others are stored (the bulk path of code generation, which
	// retries rejected codes with new ones). It never fails the
	// transaction over a taken key.
	InsertCoupons(ctx context.Context, tenant storage.TenantID, cs []Coupon) (rejected []int, err error)
	// Coupon returns a coupon; ErrNotFound.
	Coupon(ctx context.Context, tenant storage.TenantID, id string) (Coupon, error)
	// CouponByCode returns the coupon carrying a canonical code; ErrNotFound.
	CouponByCode(ctx context.Context, tenant storage.TenantID, code string) (Coupon, error)
	// UpdateCoupon writes c over the stored coupon if that one is still in
	// state prevState at version prevVersion, as one conditional write;
	// ErrConflict otherwise (another command got there first), ErrNotFound
	// when there is no such coupon.
	UpdateCoupon(ctx context.Context, c Coupon, prevState State, prevVersion int64) error
	// FindCoupons returns the coupons matching q, ordered by ID.
	FindCoupons(ctx context.Context, q Query) ([]Coupon, error)
	// CountCoupons counts a template's coupons by state.
	CountCoupons(ctx context.Context, tenant storage.TenantID, templateID string) (map[State]int64, error)

	// AppendAudit stores audit entries.
	AppendAudit(ctx context.Context, entries ...AuditEntry) error
	// Audit returns a coupon's audit trail, oldest first.
	Audit(ctx context.Context, tenant storage.TenantID, couponID string) ([]AuditEntry, error)

	// CreateDistribution stores a new distribution; ErrDuplicate.
	CreateDistribution(ctx context.Context, d Distribution) error
	// Distribution returns a distribution; ErrNotFound.
	Distribution(ctx context.Context, tenant storage.TenantID, id string) (Distribution, error)
	// UpdateDistribution writes d if the stored one is at prevVersion;
	// ErrConflict otherwise.
	UpdateDistribution(ctx context.Context, d Distribution, prevVersion int64) error

	// InsertGiftCardAuth stores an order's gift-card authorization;
	// ErrDuplicate when the order has one, without failing the
	// transaction.
	InsertGiftCardAuth(ctx context.Context, a GiftCardAuthorization) error
	// GiftCardAuth returns an order's gift-card authorization; ErrNotFound.
	GiftCardAuth(ctx context.Context, tenant storage.TenantID, orderID string) (GiftCardAuthorization, error)
	// UpdateGiftCardAuth writes a over the stored authorization if that
	// one is at prevVersion, as one conditional write; ErrConflict
	// otherwise, ErrNotFound when there is none.
	UpdateGiftCardAuth(ctx context.Context, a GiftCardAuthorization, prevVersion int64) error
}
