package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

func (l *Ledger) knownAsset(c money.Currency) error {
	if c.IsZero() {
		return fmt.Errorf("%w: no asset", ErrUnknownAsset)
	}
	if k, err := l.asset(c.Code()); err != nil || k != c {
		return fmt.Errorf("%w: %s (scale %d)", ErrUnknownAsset, c.Code(), c.Scale())
	}
	return nil
}

// Balance returns an account's posted, held and available balance in
// asset. An account or asset never used reads as zero.
//
// Errors: storage.ErrInvalidTenant, ErrInvalidRequest (bad account ID),
// ErrUnknownAsset, the Store's errors.
func (l *Ledger) Balance(ctx context.Context, tenant storage.TenantID, account string, asset money.Currency) (Balance, error) {
	if err := tenant.Validate(); err != nil {
		return Balance{}, err
	}
	if err := ValidateAccountID(account); err != nil {
		return Balance{}, err
	}
	if err := l.knownAsset(asset); err != nil {
		return Balance{}, err
	}
	b, err := l.store.Balance(ctx, tenant, account, asset.Code())
	if err != nil {
		return Balance{}, err
	}
	out := Balance{Posted: money.FromMinor(b.Posted, asset), Held: money.FromMinor(b.Held, asset)}
	out.Available = out.Posted // amounts are immutable: nothing held, the same value
	if b.Held != 0 {
		out.Available = money.FromMinor(b.Posted-b.Held, asset)
	}
	return out, nil
}

// BalanceAt returns an account's posted balance in asset as it stood at
// the given time: the resulting balance stored with its last entry at or
// before then (a lookup, not a replay).
//
// Errors: those of Balance.
func (l *Ledger) BalanceAt(ctx context.Context, tenant storage.TenantID, account string, asset money.Currency, at time.Time) (money.Amount, error) {
	if err := tenant.Validate(); err != nil {
		return money.Amount{}, err
	}
	if err := ValidateAccountID(account); err != nil {
		return money.Amount{}, err
	}
	if err := l.knownAsset(asset); err != nil {
		return money.Amount{}, err
	}
	v, err := l.store.BalanceAt(ctx, tenant, account, asset.Code(), at)
	if err != nil {
		return money.Amount{}, err
	}
	return money.FromMinor(v, asset), nil
}

// History returns a page of an account's entries, newest first.
//
// Errors: storage.ErrInvalidTenant, ErrInvalidRequest (bad account ID or
// limit), ErrUnknownAsset, the Store's errors.
func (l *Ledger) History(ctx context.Context, tenant storage.TenantID, account string, q HistoryQuery) (Page, error) {
	if err := tenant.Validate(); err != nil {
		return Page{}, err
	}
	if err := ValidateAccountID(account); err != nil {
		return Page{}, err
	}
	code := ""
	if !q.Asset.IsZero() {
		if err := l.knownAsset(q.Asset); err != nil {
			return Page{}, err
		}
		code = q.Asset.Code()
	}
	switch {
	case q.Limit == 0:
		q.Limit = 50
	case q.Limit < 0 || q.Limit > 1000:
		return Page{}, fmt.Errorf("%w: limit %d outside 1..1000", ErrInvalidRequest, q.Limit)
	}
	if q.Before < 0 {
		return Page{}, fmt.Errorf("%w: negative cursor", ErrInvalidRequest)
	}
	rows, err := l.store.History(ctx, tenant, account, code, q.Before, q.Limit+1)
	if err != nil {
		return Page{}, err
	}
	var p Page
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		p.Next = rows[len(rows)-1].Seq
	}
	p.Entries = make([]Entry, len(rows))
	for i, r := range rows {
		c, err := l.asset(r.Asset)
		if err != nil {
			return Page{}, fmt.Errorf("%w: stored asset %s", ErrUnknownAsset, r.Asset)
		}
		p.Entries[i] = Entry{Seq: r.Seq, TxID: r.TxID, Kind: r.Kind, Line: r.Line, Account: r.Account, Other: r.Other,
			Amount: money.FromMinor(r.Amount, c), Balance: money.FromMinor(r.Balance, c), At: r.At}
	}
	return p, nil
}

// ExpiringBy returns how much of an account's balance in asset sits in
// lots that expire at or before date (those already expired but not yet
// swept included).
//
// Errors: those of Balance.
func (l *Ledger) ExpiringBy(ctx context.Context, tenant storage.TenantID, account string, asset money.Currency, date time.Time) (money.Amount, error) {
	if err := tenant.Validate(); err != nil {
		return money.Amount{}, err
	}
	if err := ValidateAccountID(account); err != nil {
		return money.Amount{}, err
	}
	if err := l.knownAsset(asset); err != nil {
		return money.Amount{}, err
	}
	v, err := l.store.ExpiringBy(ctx, tenant, account, asset.Code(), date)
	if err != nil {
		return money.Amount{}, err
	}
	return money.FromMinor(v, asset), nil
}
