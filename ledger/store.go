package ledger

import (
	"context"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// Store keeps a ledger's records. Adapters (storage/memory,
// storage/sqlstore) implement it and pass storagetest.RunLedger. Every
// method joins the transaction that a storage.Transactor put into ctx, and
// runs in a transaction of its own when there is none. Amounts are integer
// minor units of the asset named beside them; the Ledger has validated
// every row before a Store sees it.
//
// A Store enforces what must hold across host instances: idempotency
// keys, floors, hold and reversal limits, all as conditional writes. It
// reports them with this package's errors. A method that fails may leave
// partial writes in the transaction in ctx; the Ledger's transaction rolls
// them back.
type Store interface {
	// CommitTx commits txs in order. For each it claims the key, and if
	// the key is new: creates accounts met for the first time (with
	// DefaultOverdraft), locks the balances it touches in ascending
	// (account, asset) order, applies their net deltas when no balance
	// ends below its floor (else ErrInsufficientFunds), records every
	// posting's resulting balances, creates a lot for every line with an
	// expiry, consumes lots of every debited balance earliest expiry first
	// (or exactly the Lots given), applies the hold capture or reversal
	// the row carries (ErrHoldNotFound, ErrHoldClosed, ErrHoldExpired,
	// ErrOverCapture, ErrOverReversal; storage.ErrConflict when a lot
	// named in Lots has less left than taken), and appends Event to the
	// outbox. For a key that exists it writes nothing and returns the
	// stored row with Replayed set; the caller compares fingerprints.
	CommitTx(ctx context.Context, tenant storage.TenantID, txs []TxRow) ([]Committed, error)
	// TxByID returns a transaction; ErrTransactionNotFound.
	TxByID(ctx context.Context, tenant storage.TenantID, id string) (TxRow, error)
	// TxByKey returns the transaction committed under key;
	// ErrTransactionNotFound.
	TxByKey(ctx context.Context, tenant storage.TenantID, key string) (TxRow, error)

	// PutAccount creates the account or replaces its metadata and
	// overdraft (moving the floors of its balances), appends event, and
	// returns the account as stored.
	PutAccount(ctx context.Context, tenant storage.TenantID, a Account, event storage.Message) (Account, error)
	// Account returns an account; ErrUnknownAccount.
	Account(ctx context.Context, tenant storage.TenantID, id string) (Account, error)

	// Balance returns the balance of an account in asset; a balance never
	// touched reads as zero.
	Balance(ctx context.Context, tenant storage.TenantID, account, asset string) (BalanceRow, error)
	// BalanceAt returns the posted balance after the last entry of the
	// account in asset stamped at or before at (zero before the first).
	BalanceAt(ctx context.Context, tenant storage.TenantID, account, asset string, at time.Time) (int64, error)
	// History returns up to limit entries of the account, newest first,
	// with Seq below before (0: from the newest). asset "" means every
	// asset.
	History(ctx context.Context, tenant storage.TenantID, account, asset string, before int64, limit int) ([]EntryRow, error)

	// PlaceHold claims the hold's key and, when it is new, reserves
	// Amount on the account's balance (ErrInsufficientFunds below the
	// floor; ErrUnknownAccount when the account does not exist), stores
	// the hold and appends event. For a key that exists it returns the
	// stored hold and true.
	PlaceHold(ctx context.Context, tenant storage.TenantID, h HoldRow, event storage.Message) (HoldRow, bool, error)
	// Hold returns a hold; ErrHoldNotFound.
	Hold(ctx context.Context, tenant storage.TenantID, id string) (HoldRow, error)
	// ReleaseHold closes an open hold with status (HoldVoided or
	// HoldExpired), gives its uncaptured rest back to the available
	// balance and appends event. A hold already closed is returned as it
	// is, with false, and nothing is written. ErrHoldNotFound.
	ReleaseHold(ctx context.Context, tenant storage.TenantID, id string, status HoldStatus, at time.Time, event storage.Message) (HoldRow, bool, error)
	// ExpiredHolds returns up to limit open holds whose expiry is at or
	// before now, earliest first.
	ExpiredHolds(ctx context.Context, tenant storage.TenantID, now time.Time, limit int) ([]HoldRow, error)
	// OpenHolds returns up to limit open holds whose destination is
	// destination and whose ID is above afterID, by ID.
	OpenHolds(ctx context.Context, tenant storage.TenantID, destination, afterID string, limit int) ([]HoldRow, error)

	// ExpiredLots returns up to limit lots with something left whose
	// expiry is at or before now, earliest first.
	ExpiredLots(ctx context.Context, tenant storage.TenantID, now time.Time, limit int) ([]LotRow, error)
	// ExpiringBy returns the sum left in the account's lots in asset that
	// expire at or before date.
	ExpiringBy(ctx context.Context, tenant storage.TenantID, account, asset string, date time.Time) (int64, error)
}

// DirectStore is a Store that can also commit a batch without the
// Ledger opening a transaction around it: in one statement of its own
// (PostgreSQL: one round trip, balance rows locked only for that
// statement) or in a transaction it opens itself. The Ledger calls it
// first when it commits; ok=false means the Store declined (ctx holds a
// transaction, the dialect has no such path, or the batch needs the
// general path: a replayed key, a debit that meets open lots) and wrote
// nothing, and the Ledger then runs CommitTx in a transaction.
//
// When it accepts, CommitTxDirect does what CommitTx does, all or
// nothing, writing the outcome of txs[i] into done[i] (done has
// len(txs); its contents mean nothing unless ok), and in addition refuses
// a batch in which a stored key's fingerprint differs from the row's
// (ErrKeyReused wrapping storage.ErrIdempotencyMismatch), writing
// nothing.
//
// It keeps nothing of txs (their lines, events and payloads) or done once
// it returns, whatever it returns: the Ledger reuses that memory for its
// next transfer. A Committed row may share memory with txs.
type DirectStore interface {
	Store
	CommitTxDirect(ctx context.Context, tenant storage.TenantID, txs []TxRow, done []Committed) (ok bool, err error)
}

// TxKind tells what made a transaction.
type TxKind uint8

// Transaction kinds.
const (
	KindTransfer TxKind = iota + 1 // Transfer or Commit
	KindCapture                    // Capture of a hold
	KindReversal                   // Reverse of an earlier transaction
	KindExpiry                     // SweepExpired moving expired lots
)

// String returns "transfer", "capture", "reversal" or "expiry".
func (k TxKind) String() string {
	switch k {
	case KindTransfer:
		return "transfer"
	case KindCapture:
		return "capture"
	case KindReversal:
		return "reversal"
	case KindExpiry:
		return "expiry"
	}
	return "unknown"
}

// TxRow is a transaction as a Store keeps it.
type TxRow struct {
	ID          string
	Key         string
	Fingerprint string
	Kind        TxKind
	At          time.Time
	Lines       []LineRow
	Metadata    map[string]string
	// Reverses is the ID of the transaction a reversal takes back, and
	// Taken how much of each of its lines (by index).
	Reverses string
	Taken    []Take
	// Hold is the hold a capture draws on; the capture's single line
	// moves the amount from the hold's account, releasing as much held.
	Hold string
	// Lots, on an expiry, names exactly the lots its lines consume (by
	// lot ID as Take.Index) instead of earliest expiry first.
	Lots []Take
	// Event is appended to the outbox when the row is committed anew.
	// Stores do not keep it with the row.
	Event *storage.Message
}

// LineRow is one posting: Amount of Asset from Source to Destination.
type LineRow struct {
	Source      string
	Destination string
	Asset       string
	Amount      int64
	ExpiresAt   time.Time // non-zero: the credit opens a lot expiring then
	// Reversed is how much of the line later reversals took back; set by
	// the Store when reading.
	Reversed int64
}

// Take is an amount taken from one item: a line of a reversed
// transaction, or a lot.
type Take struct {
	Index  int64
	Amount int64
}

// Committed is the outcome of one row of CommitTx.
type Committed struct {
	Row      TxRow
	Replayed bool // the key existed: Row is the stored transaction
}

// BalanceRow is an account's balance in one asset.
type BalanceRow struct {
	Posted int64
	Held   int64
}

// EntryRow is one side of a posting in an account's history.
type EntryRow struct {
	Seq     int64 // increases with every entry of the tenant
	TxID    string
	Kind    TxKind
	Line    int    // the posting's index in its transaction
	Account string // this side's account
	Other   string // the other side's account
	Asset   string
	Amount  int64 // signed: negative for a debit
	Balance int64 // posted balance after the entry
	At      time.Time
}

// HoldStatus is where a hold stands.
type HoldStatus uint8

// Hold statuses.
const (
	HoldOpen     HoldStatus = iota + 1
	HoldCaptured            // captured in full
	HoldVoided              // released by Void (possibly after partial captures)
	HoldExpired             // released after its expiry
)

// String returns "open", "captured", "voided" or "expired".
func (s HoldStatus) String() string {
	switch s {
	case HoldOpen:
		return "open"
	case HoldCaptured:
		return "captured"
	case HoldVoided:
		return "voided"
	case HoldExpired:
		return "expired"
	}
	return "unknown"
}

// HoldRow is a hold as a Store keeps it.
type HoldRow struct {
	ID          string
	Key         string
	Fingerprint string
	Account     string
	Destination string
	Asset       string
	Amount      int64
	Captured    int64
	Status      HoldStatus
	ExpiresAt   time.Time // zero: never
	Metadata    map[string]string
	CreatedAt   time.Time
	ClosedAt    time.Time
}

// LotRow is an expiring credit: what is left of it and when it expires.
type LotRow struct {
	ID        int64
	Account   string
	Asset     string
	Amount    int64
	Remaining int64
	ExpiresAt time.Time
	TxID      string
}
