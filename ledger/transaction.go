package ledger

import (
	"time"

	"github.com/rewardkit/rewardkit/money"
)

// Posting moves Amount (whose currency is the asset) from Source to
// Destination. A transaction made of postings is balanced per asset by
// construction. A non-zero ExpiresAt makes the credit an expiring lot of
// the destination (points that lapse).
type Posting struct {
	Source      string
	Destination string
	Amount      money.Amount
	ExpiresAt   time.Time
}

// Leg is one account's side of a transaction as a signed amount: negative
// debits, positive credits. Legs are the other way to state a transfer
// ("the customer pays 100, the merchant gets 95, the platform 5"); they
// must sum to zero per asset and are turned into postings in order.
type Leg struct {
	Account   string
	Amount    money.Amount
	ExpiresAt time.Time // credits only
}

// TransferRequest is one transaction to commit.
type TransferRequest struct {
	// Key makes the transfer idempotent (an event or request ID, at most
	// storage.MaxKeyLen bytes): the same key with the same postings returns
	// the first transaction; with other postings, ErrKeyReused.
	Key string
	// Postings or Legs (not both) say what moves.
	Postings []Posting
	Legs     []Leg
	Metadata map[string]string
}

// Transaction is a committed, immutable set of postings.
type Transaction struct {
	ID       string
	Key      string
	Kind     TxKind
	At       time.Time
	Postings []Posting
	// Reversed holds, per posting, how much later reversals took back.
	Reversed []money.Amount
	Metadata map[string]string
	Reverses string // reversals: the transaction taken back
	Hold     string // captures: the hold drawn on
}

// Balance is an account's balance in one asset. Posted is what committed
// transactions put there, Held what open holds reserve, and Available
// Posted minus Held: what a debit or a new hold may use (down to the
// account's floor).
type Balance struct {
	Posted    money.Amount
	Held      money.Amount
	Available money.Amount
}

// Entry is one side of a posting in an account's history.
type Entry struct {
	Seq     int64 // cursor for History: pass it as Before for the next page
	TxID    string
	Kind    TxKind
	Line    int    // the posting's index in its transaction
	Account string // the account whose history this is
	Other   string // the account on the posting's other side
	Amount  money.Amount
	Balance money.Amount // the account's posted balance right after
	At      time.Time
}

// HistoryQuery selects a page of an account's history, newest first.
type HistoryQuery struct {
	Asset  money.Currency // zero: every asset
	Before int64          // entries with Seq below; 0: from the newest
	Limit  int            // default 50, at most 1000
}

// Page is one page of history. Next is the Before of the next page, or 0
// when this is the last one.
type Page struct {
	Entries []Entry
	Next    int64
}
