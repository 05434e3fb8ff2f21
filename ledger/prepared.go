package ledger

import (
	"context"
	"fmt"

	"github.com/rewardkit/rewardkit/storage"
)

// PreparedTransfer is a transfer checked and made ready by Prepare, for
// CommitPrepared to commit: everything of Transfer that reads no store
// (validation, the transaction's ID and time, its fingerprint, its
// outbox message) is done once, before the transaction that commits it.
// A PreparedTransfer is not changed by a commit: it may be committed
// again (by a transaction re-run after a conflict, say), and since its
// key goes with it, a commit that finds an earlier one committed is a
// replay of it.
type PreparedTransfer struct {
	tenant storage.TenantID
	row    TxRow
	event  storage.Message
	line   [1]LineRow // the line of a transfer of one posting
}

// Prepare checks req as Transfer does and makes everything its commit
// writes, reading nothing. Use it to keep that work out of a transaction
// of your own, whose locks are then held for the writes alone: the order
// service of package settlement prepares a payment's transfer before the
// transaction that records the payment. The transaction's ID and time are
// fixed here, so a transfer committed later carries the time it was
// prepared at.
//
// Errors: those of Transfer for bad input (storage.ErrInvalidTenant,
// ErrInvalidRequest, ErrInvalidAmount, ErrUnknownAsset, ErrUnbalanced).
func (l *Ledger) Prepare(tenant storage.TenantID, req TransferRequest) (*PreparedTransfer, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	p := &PreparedTransfer{tenant: tenant}
	b := batch{lines: p.line[:]}
	row, err := l.prepareTransfer(tenant, &req, l.clock.Now(), &b, &p.event)
	if err != nil {
		return nil, err
	}
	p.row = row
	return p, nil
}

// Key returns the idempotency key of the prepared transfer.
func (p *PreparedTransfer) Key() string { return p.row.Key }

// CommitPrepared commits p as Transfer would have committed its request
// when p was prepared, in the transaction in ctx if there is one, and
// returns the transaction (the first one, when p's key was committed
// before). p must come from Prepare of a Ledger on the same Store.
//
// Errors: ErrInvalidRequest for a PreparedTransfer Prepare did not make;
// then those of Transfer: ErrInsufficientFunds, ErrKeyReused, the
// Store's and Transactor's errors.
func (l *Ledger) CommitPrepared(ctx context.Context, p *PreparedTransfer) (*Transaction, error) {
	if p == nil || p.row.ID == "" {
		return nil, fmt.Errorf("%w: not a prepared transfer", ErrInvalidRequest)
	}
	rows := []TxRow{p.row}
	done, err := l.commitRows(ctx, p.tenant, rows, &batch{})
	if err != nil {
		return nil, err
	}
	return l.transaction(done[0].Row)
}
