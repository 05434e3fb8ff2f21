package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// SweepResult reports what one SweepExpired call did.
type SweepResult struct {
	HoldsReleased int            // expired holds released
	Transactions  []*Transaction // one expiry transaction per account and asset
	Skipped       int            // accounts left for a later sweep (a concurrent change, or funds under a hold)
}

// SweepExpired releases up to limit holds whose expiry is at or before
// now, and moves what is left of up to limit expired lots to the
// configured ExpiryAccount, one transaction (kind KindExpiry) per account
// and asset, so that history explains where the points went. A lot's
// remainder that an open hold still covers stays until the hold is
// released. Each release and each transaction commits on its own; running
// several sweeps at once (one per host) is safe, but one at a time under a
// storage lease is cheaper.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest for limit < 1; the
// Store's errors. The result counts what was done before an error.
func (l *Ledger) SweepExpired(ctx context.Context, tenant storage.TenantID, now time.Time, limit int) (SweepResult, error) {
	var res SweepResult
	if err := tenant.Validate(); err != nil {
		return res, err
	}
	if limit < 1 {
		return res, fmt.Errorf("%w: limit %d", ErrInvalidRequest, limit)
	}
	holds, err := l.store.ExpiredHolds(ctx, tenant, now, limit)
	if err != nil {
		return res, err
	}
	for _, h := range holds {
		var released bool
		err := l.tx.InTx(ctx, func(ctx context.Context) error {
			closing := h
			closing.Status = HoldExpired
			var err error
			_, released, err = l.store.ReleaseHold(ctx, tenant, h.ID, HoldExpired, now, holdEvent(tenant, TopicHoldReleased, &closing, now))
			return err
		})
		if err != nil {
			return res, err
		}
		if released {
			res.HoldsReleased++
		}
	}
	lots, err := l.store.ExpiredLots(ctx, tenant, now, limit)
	if err != nil {
		return res, err
	}
	type group struct{ account, asset string }
	var order []group
	byGroup := map[group][]LotRow{}
	for _, lot := range lots {
		g := group{lot.Account, lot.Asset}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], lot)
	}
	for _, g := range order {
		if g.account == l.expiry {
			continue // nothing to move: the expiry account keeps its own lots
		}
		t, err := l.expireGroup(ctx, tenant, now, g.account, g.asset, byGroup[g])
		switch {
		case errors.Is(err, errSkip):
			res.Skipped++
		case err != nil:
			return res, err
		case t != nil:
			res.Transactions = append(res.Transactions, t)
		}
	}
	return res, nil
}

var errSkip = errors.New("ledger: sweep skipped")

func (l *Ledger) expireGroup(ctx context.Context, tenant storage.TenantID, now time.Time, account, asset string, lots []LotRow) (*Transaction, error) {
	var out *Committed
	err := l.tx.InTx(ctx, func(ctx context.Context) error {
		acc, err := l.store.Account(ctx, tenant, account)
		if err != nil {
			return err
		}
		bal, err := l.store.Balance(ctx, tenant, account, asset)
		if err != nil {
			return err
		}
		var total int64
		for _, lot := range lots {
			total += lot.Remaining
		}
		amount := total
		if floor, ok := acc.Overdraft.Floor(asset); ok {
			amount = min(amount, bal.Posted-bal.Held-floor)
		}
		if amount <= 0 {
			return errSkip
		}
		row := TxRow{ID: l.newID(), Kind: KindExpiry, At: now,
			Lines:    []LineRow{{Source: account, Destination: l.expiry, Asset: asset, Amount: amount}},
			Metadata: map[string]string{"reason": "expiry"}}
		left := amount
		var kb []byte
		for _, lot := range lots {
			if left == 0 {
				break
			}
			n := min(left, lot.Remaining)
			row.Lots = append(row.Lots, Take{Index: lot.ID, Amount: n})
			kb = binary.BigEndian.AppendUint64(kb, uint64(lot.ID))
			kb = binary.BigEndian.AppendUint64(kb, uint64(lot.Remaining))
			kb = binary.BigEndian.AppendUint64(kb, uint64(n))
			left -= n
		}
		// Two sweeps that saw the same lots in the same state commit one
		// transaction between them.
		sum := sha256.Sum256(kb)
		row.Key = "ledger.expiry:" + hex.EncodeToString(sum[:16])
		row.Fingerprint = fingerprint(&row)
		ev := txEvent(tenant, &row)
		row.Event = &ev
		done, err := l.store.CommitTx(ctx, tenant, []TxRow{row})
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, ErrInsufficientFunds) {
			return fmt.Errorf("%w: %v", errSkip, err) // lots or balance moved meanwhile: next sweep (not retried here)
		}
		if err != nil {
			return err
		}
		if done[0].Replayed {
			return nil
		}
		out = &done[0]
		return nil
	})
	if err != nil || out == nil {
		return nil, err
	}
	return l.transaction(out.Row)
}
