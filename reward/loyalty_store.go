package reward

import (
	"context"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// MemberRecord is a loyalty member as a LoyaltyStore keeps it. Points are
// not here: the member's ledger account holds them.
type MemberRecord struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	Tier  string `json:"tier"`
	// Lifetime is the sum of every accrual's points, in minor units of
	// the program's points asset.
	Lifetime     int64     `json:"lifetime"`
	RegisteredAt time.Time `json:"registered_at"`
	LastActivity time.Time `json:"last_activity"`
	TierSince    time.Time `json:"tier_since"`
	// TierVersion counts the member's tier changes.
	TierVersion int64 `json:"tier_version"`
}

// AccrualRecord is one accrual: the spend that earned it and the points
// it earned, both in minor units (spend of the program's currency).
type AccrualRecord struct {
	Member string    `json:"member"`
	Key    string    `json:"key"`
	At     time.Time `json:"at"`
	Spend  int64     `json:"spend"`
	Points int64     `json:"points"`
}

// TierChange is one move of a member from one tier to another.
type TierChange struct {
	Member string    `json:"member"`
	Seq    int64     `json:"seq"` // the member's TierVersion after the change
	From   string    `json:"from"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// LoyaltyStore keeps loyalty members, their accruals and tier changes.
// Adapters (storage/memory, storage/sqlstore) implement it beside Store
// and pass storagetest.RunLoyalty. Every method joins the transaction a
// storage.Transactor put into ctx. Every write that guards an invariant
// is a conditional write, so that many host instances may share one
// database.
type LoyaltyStore interface {
	storage.IdempotencyStore

	// InsertMember stores a new member; ErrMemberExists when the ID is
	// taken.
	InsertMember(ctx context.Context, tenant storage.TenantID, m MemberRecord) error
	// Member returns a member; ErrMemberNotFound.
	Member(ctx context.Context, tenant storage.TenantID, id string) (MemberRecord, error)
	// Members returns up to limit members ordered by ID, after the given
	// ID (exclusive; "" for the start).
	Members(ctx context.Context, tenant storage.TenantID, after string, limit int) ([]MemberRecord, error)
	// AddAccrual records a (the key unique per member: storage.ErrDuplicate
	// otherwise), adds its points to the member's Lifetime and moves
	// LastActivity to a.At when later, in one conditional write, and
	// returns the member as it now is. ErrMemberNotFound.
	AddAccrual(ctx context.Context, tenant storage.TenantID, a AccrualRecord) (MemberRecord, error)
	// TouchMember moves LastActivity to at when later; ErrMemberNotFound.
	TouchMember(ctx context.Context, tenant storage.TenantID, id string, at time.Time) error
	// QualifyingSpend sums the spend of the member's accruals dated at or
	// after since.
	QualifyingSpend(ctx context.Context, tenant storage.TenantID, member string, since time.Time) (int64, error)
	// SetTier moves the member from c.From to c.To when its tier is still
	// c.From (a conditional write), sets TierSince to c.At, increases
	// TierVersion and records the change with Seq = the new TierVersion;
	// it returns the stored change and true, or false when the tier was
	// no longer c.From. ErrMemberNotFound.
	SetTier(ctx context.Context, tenant storage.TenantID, c TierChange) (TierChange, bool, error)
	// TierChanges returns a member's tier changes, oldest first.
	TierChanges(ctx context.Context, tenant storage.TenantID, member string) ([]TierChange, error)
}
