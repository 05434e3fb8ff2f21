package ledger

import (
	"context"
	"fmt"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// TotalStore is a Store that can also sum balances across accounts. It is
// optional, so that Store implementations written before it keep
// working; storage/memory and storage/sqlstore implement it.
type TotalStore interface {
	Store
	// TotalPosted returns the sum of the posted balances of every account
	// of the tenant in asset (zero when none has one), read in one query.
	TotalPosted(ctx context.Context, tenant storage.TenantID, asset string) (int64, error)
}

// TrialBalance returns the sum of every account's posted balance in asset
// (World's included). Every transaction is balanced, so it must be zero;
// anything else means the records were changed behind the ledger's back.
// Holds do not count: they reserve, they do not post.
//
// Errors: storage.ErrInvalidTenant, ErrUnknownAsset, ErrUnsupported when
// the Store is not a TotalStore, the Store's errors.
func (l *Ledger) TrialBalance(ctx context.Context, tenant storage.TenantID, asset money.Currency) (money.Amount, error) {
	if err := tenant.Validate(); err != nil {
		return money.Amount{}, err
	}
	if err := l.knownAsset(asset); err != nil {
		return money.Amount{}, err
	}
	ts, ok := l.store.(TotalStore)
	if !ok {
		return money.Amount{}, fmt.Errorf("%w: trial balance needs a TotalStore, the store is %T", ErrUnsupported, l.store)
	}
	sum, err := ts.TotalPosted(ctx, tenant, asset.Code())
	if err != nil {
		return money.Amount{}, err
	}
	return money.FromMinor(sum, asset), nil
}
