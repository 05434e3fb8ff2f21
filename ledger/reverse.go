package ledger

import (
	"context"
	"fmt"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// ReverseRequest takes back a transaction, whole or in part.
type ReverseRequest struct {
	Key string // idempotency key of the reversal transaction
	// Amounts, one per posting of the original (a zero value for a posting
	// left alone), says how much of each to take back. Nil: everything
	// not yet reversed.
	Amounts  []money.Amount
	Metadata map[string]string
}

// Reverse commits a new transaction of kind KindReversal, linked to the
// original, that moves the given amounts back from each posting's
// destination to its source. The original is never changed; how much of
// each posting was taken back shows in Transaction.Reversed. The
// reversal debits like any transfer, so it fails with
// ErrInsufficientFunds when the destination has spent what it got.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest, ErrInvalidAmount,
// ErrUnknownAsset for bad input; ErrTransactionNotFound; ErrOverReversal
// when an amount exceeds what is left of its posting (or nothing is left);
// ErrInsufficientFunds; ErrKeyReused; the Store's errors.
func (l *Ledger) Reverse(ctx context.Context, tenant storage.TenantID, txID string, req ReverseRequest) (*Transaction, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := validKey(req.Key); err != nil {
		return nil, err
	}
	if txID == "" {
		return nil, fmt.Errorf("%w: no transaction ID", ErrInvalidRequest)
	}
	var want []int64 // nil: the rest; else per line, 0 for none
	if req.Amounts != nil {
		want = make([]int64, len(req.Amounts))
		any := false
		for i, a := range req.Amounts {
			if a.Currency().IsZero() || a.IsZero() {
				continue
			}
			m, err := minorOf(a, l.asset)
			if err != nil {
				return nil, fmt.Errorf("amount %d: %w", i, err)
			}
			want[i] = m
			any = true
		}
		if !any {
			return nil, fmt.Errorf("%w: a reversal of nothing", ErrInvalidAmount)
		}
	}
	now := l.clock.Now()
	var out Committed
	err := l.tx.InTx(ctx, func(ctx context.Context) error {
		orig, err := l.store.TxByID(ctx, tenant, txID)
		if err != nil {
			return err
		}
		if want != nil && len(want) != len(orig.Lines) {
			return fmt.Errorf("%w: %d amounts for %d postings", ErrInvalidRequest, len(want), len(orig.Lines))
		}
		row := TxRow{ID: l.newID(), Key: req.Key, Kind: KindReversal, At: now, Reverses: txID, Metadata: cloneMeta(req.Metadata)}
		fp := TxRow{Kind: KindReversal, Reverses: txID}
		for i := range orig.Lines {
			ln := &orig.Lines[i]
			var take int64
			if want == nil {
				take = ln.Amount - ln.Reversed
			} else {
				take = want[i]
				if take != 0 && req.Amounts[i].Currency().Code() != ln.Asset {
					return fmt.Errorf("%w: amount %d is in %s, posting in %s", ErrInvalidAmount, i, req.Amounts[i].Currency().Code(), ln.Asset)
				}
				fp.Taken = append(fp.Taken, Take{Index: int64(i), Amount: take})
			}
			if take <= 0 {
				continue
			}
			row.Taken = append(row.Taken, Take{Index: int64(i), Amount: take})
			row.Lines = append(row.Lines, LineRow{Source: ln.Destination, Destination: ln.Source, Asset: ln.Asset, Amount: take})
		}
		row.Fingerprint = fingerprint(&fp)
		if len(row.Lines) == 0 { // nothing left; a replay of the reversal that took it is fine
			out, err = l.replayOr(ctx, tenant, row, fmt.Errorf("%w: transaction %s is reversed in full", ErrOverReversal, txID))
		} else {
			out, err = l.commitOne(ctx, tenant, row)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return l.transaction(out.Row)
}
