package settlement

import (
	"context"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Store is what package settlement needs from a database. Adapters in
// storage/memory and storage/sqlstore implement it; storagetest.RunSettlement
// checks them. Every method joins the transaction in ctx
// (storage.Transactor) and scopes every record by tenant. Errors are the
// storage sentinels: storage.ErrNotFound, storage.ErrDuplicate,
// storage.ErrConflict, storage.ErrInvalidTenant.
type Store interface {
	// InsertOrder stores a new order; storage.ErrDuplicate when its ID
	// exists in the tenant. The adapter stores a copy: it keeps nothing of
	// o's slices (lines, discounts, tenders, ...), so the caller may hand
	// o on (CreateOrder returns the order it inserted).
	InsertOrder(ctx context.Context, o Order) error
	// Order returns an order, a copy that shares nothing with the store;
	// storage.ErrNotFound.
	Order(ctx context.Context, tenant storage.TenantID, id string) (Order, error)
	// UpdateOrder writes o over the stored order if that one is still at
	// prevVersion, as one conditional write; storage.ErrConflict
	// otherwise, storage.ErrNotFound when there is no such order.
	UpdateOrder(ctx context.Context, o Order, prevVersion int64) error
	// UpdateOrderHead is UpdateOrder for a change that leaves every slice
	// of the order (lines, discounts, coupons, tenders, split, cleared
	// units, refunds) as stored, such as a change of state: an adapter
	// may keep the stored slices and take only the other fields of o.
	UpdateOrderHead(ctx context.Context, o Order, prevVersion int64) error
	// FindOrders returns the orders matching q, ordered by ID.
	FindOrders(ctx context.Context, q OrderQuery) ([]Order, error)

	// InsertEntries stores clearing entries; storage.ErrDuplicate when an
	// ID exists in the tenant (nothing is stored then).
	InsertEntries(ctx context.Context, entries ...Entry) error
	// OpenEntries returns the party's entries not yet on a statement and
	// stamped before before, ordered by (At, ID), at most limit (0: all).
	OpenEntries(ctx context.Context, tenant storage.TenantID, party string, before time.Time, limit int) ([]Entry, error)
	// OpenParties returns the parties that have entries not yet on a
	// statement, sorted, with the earliest such entry's time.
	OpenParties(ctx context.Context, tenant storage.TenantID) ([]OpenParty, error)
	// Entries returns the entries of an order, or of a statement when
	// statementID is set, ordered by (At, ID).
	Entries(ctx context.Context, tenant storage.TenantID, orderID, statementID string) ([]Entry, error)

	// InsertStatement stores a statement and puts the given entries on it
	// (only those still open). It returns false and writes nothing when
	// the tenant already has a statement of the party and period (another
	// instance made it). storage.ErrConflict when an entry was taken
	// meanwhile.
	InsertStatement(ctx context.Context, st Statement, entryIDs []string) (bool, error)
	// Statement returns a statement; storage.ErrNotFound.
	Statement(ctx context.Context, tenant storage.TenantID, id string) (Statement, error)
	// UpdateStatement writes st if the stored one is at prevVersion;
	// storage.ErrConflict otherwise.
	UpdateStatement(ctx context.Context, st Statement, prevVersion int64) error
	// FindStatements returns the tenant's statements of a party (all
	// parties when empty), ordered by (PeriodStart, Party).
	FindStatements(ctx context.Context, tenant storage.TenantID, party string) ([]Statement, error)
}

// OrderQuery selects orders of one tenant. Empty fields do not filter.
type OrderQuery struct {
	Tenant storage.TenantID
	States []OrderState
	// PayByBefore keeps orders whose PayBy is before it.
	PayByBefore time.Time
	AfterID     string
	Limit       int // 0: no limit
}

// OpenParty is a party with entries not yet on a statement.
type OpenParty struct {
	Party    string
	Earliest time.Time
}

// EntryKind says what made a clearing entry.
type EntryKind string

// The entry kinds.
const (
	EntryClearing EntryKind = "clearing" // completion: a party's share of an order
	EntryClawback EntryKind = "clawback" // a refund after completion takes back a share
)

// Entry is one amount cleared to (or clawed back from) a party's payable
// account for one order; the same amount is a leg of the ledger
// transaction named by TxKey. Statements gather entries.
type Entry struct {
	Tenant      storage.TenantID `json:"tenant"`
	ID          string           `json:"id"` // unique in the tenant
	Party       string           `json:"party"`
	OrderID     string           `json:"order_id"`
	Kind        EntryKind        `json:"kind"`
	Amount      money.Amount     `json:"amount"` // signed: negative takes from the party
	TxKey       string           `json:"tx_key"` // the ledger transaction's idempotency key
	Coupon      bool             `json:"coupon,omitempty"`
	At          time.Time        `json:"at"`
	StatementID string           `json:"statement_id,omitempty"`
}
