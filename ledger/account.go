package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// World is the account that money and points come from and go back to:
// it may go below zero without bound (its balance is minus everything
// issued). It is created on first use like any other account.
const World = "world"

// MaxAccountLen is the longest account ID accepted.
const MaxAccountLen = 200

// OverdraftKind says how far below zero an account may go.
type OverdraftKind uint8

// Overdraft kinds.
const (
	// NoOverdraft: the balance available (posted minus held) never goes
	// below zero. The default of every account but World.
	NoOverdraft OverdraftKind = iota
	// BoundedOverdraft: the available balance may go down to minus Limit
	// in Limit's asset (and to zero in other assets).
	BoundedOverdraft
	// UnboundedOverdraft: no floor at all (World, a platform's clearing
	// account).
	UnboundedOverdraft
)

// String returns "none", "bounded" or "unbounded".
func (k OverdraftKind) String() string {
	switch k {
	case NoOverdraft:
		return "none"
	case BoundedOverdraft:
		return "bounded"
	case UnboundedOverdraft:
		return "unbounded"
	}
	return fmt.Sprintf("OverdraftKind(%d)", uint8(k))
}

// Overdraft is an account's floor policy.
type Overdraft struct {
	Kind  OverdraftKind
	Limit money.Amount // BoundedOverdraft only: how far below zero, positive, in one asset
}

// Account is a named place that holds balances, one per asset. IDs are
// strings chosen by the host, such as "member:42:points",
// "merchant:10086:payable" or "platform:revenue".
type Account struct {
	ID        string
	Metadata  map[string]string
	Overdraft Overdraft
	CreatedAt time.Time
}

// DefaultOverdraft is the policy of an account created on first use:
// UnboundedOverdraft for World, NoOverdraft for every other account.
func DefaultOverdraft(id string) Overdraft {
	if id == World {
		return Overdraft{Kind: UnboundedOverdraft}
	}
	return Overdraft{}
}

// Floor returns the lowest available balance (posted minus held, in minor
// units) the policy allows in asset, and false when there is no floor.
func (o Overdraft) Floor(asset string) (int64, bool) {
	switch o.Kind {
	case UnboundedOverdraft:
		return 0, false
	case BoundedOverdraft:
		if o.Limit.Currency().Code() == asset {
			m, err := o.Limit.Minor()
			if err == nil {
				return -m, true
			}
		}
	}
	return 0, true
}

func (o Overdraft) validate(assets func(string) (money.Currency, error)) error {
	switch o.Kind {
	case NoOverdraft, UnboundedOverdraft:
		if !o.Limit.Currency().IsZero() && !o.Limit.IsZero() {
			return fmt.Errorf("%w: overdraft %s takes no limit", ErrInvalidRequest, o.Kind)
		}
		return nil
	case BoundedOverdraft:
		if _, err := minorOf(o.Limit, assets); err != nil {
			return fmt.Errorf("overdraft limit: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown overdraft kind %d", ErrInvalidRequest, o.Kind)
}

// ValidateAccountID reports ErrInvalidRequest unless id is 1 to
// MaxAccountLen bytes of [A-Za-z0-9] and the separators ":_.-@/".
func ValidateAccountID(id string) error {
	if id == "" || len(id) > MaxAccountLen {
		return fmt.Errorf("%w: account ID must be 1 to %d bytes", ErrInvalidRequest, MaxAccountLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == ':', c == '_', c == '.', c == '-', c == '@', c == '/':
		default:
			return fmt.Errorf("%w: account ID %q has the character %q", ErrInvalidRequest, id, c)
		}
	}
	return nil
}

// minorOf checks that a is a positive amount in one of the ledger's assets
// at that asset's scale and returns it in minor units.
func minorOf(a money.Amount, assets func(string) (money.Currency, error)) (int64, error) {
	c := a.Currency()
	if c.IsZero() {
		return 0, fmt.Errorf("%w: amount without an asset", ErrUnknownAsset)
	}
	known, err := assets(c.Code())
	if err != nil || known != c {
		return 0, fmt.Errorf("%w: %s (scale %d)", ErrUnknownAsset, c.Code(), c.Scale())
	}
	m, err := a.Minor()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidAmount, err)
	}
	if m <= 0 {
		return 0, fmt.Errorf("%w: %s is not positive", ErrInvalidAmount, a)
	}
	if m > MaxMinor {
		return 0, fmt.Errorf("%w: %s exceeds the largest amount", ErrInvalidAmount, a)
	}
	return m, nil
}

// MaxMinor is the largest amount, in minor units, one posting, hold or
// overdraft limit may carry (2^53). Balances are sums of many of them and
// stay far from int64's bounds.
const MaxMinor int64 = 1 << 53

// OpenAccount creates the account, or replaces the metadata and overdraft
// policy of an existing one (its balances' floors move with it; a balance
// already below a tightened floor stays, but cannot be debited further).
// It appends "ledger.account.opened". Accounts also come into being on
// first use in a transfer, with DefaultOverdraft.
//
// Errors: storage.ErrInvalidTenant; ErrInvalidRequest for a bad ID or
// policy; ErrUnknownAsset, ErrInvalidAmount for a bad overdraft limit; the
// Store's errors.
func (l *Ledger) OpenAccount(ctx context.Context, tenant storage.TenantID, a Account) (*Account, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if err := ValidateAccountID(a.ID); err != nil {
		return nil, err
	}
	if err := a.Overdraft.validate(l.asset); err != nil {
		return nil, err
	}
	a.Metadata = cloneMeta(a.Metadata)
	now := l.clock.Now()
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	ev := accountEvent(tenant, &a, now, l.newID())
	var out Account
	err := l.tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		out, err = l.store.PutAccount(ctx, tenant, a, ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Account returns an account. Errors: storage.ErrInvalidTenant,
// ErrUnknownAccount, the Store's errors.
func (l *Ledger) Account(ctx context.Context, tenant storage.TenantID, id string) (*Account, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	a, err := l.store.Account(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return &a, nil
}
