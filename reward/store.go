package reward

import (
	"context"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// Store keeps the state of campaigns. Adapters (storage/memory,
// storage/sqlstore) implement it and pass storagetest.RunReward. Every
// method joins the transaction that a storage.Transactor put into ctx and
// runs in one of its own when there is none. Every write that guards an
// invariant is a conditional write, so that several host instances sharing
// one database count each event once and never overspend a budget.
//
// Budgets use the embedded CounterStore (key "reward/budget/<campaign>");
// attendance days use it too. Idempotency of events uses the embedded
// IdempotencyStore.
//
// Methods must not retain the slices they are passed (the flows of
// SaveEvent and UpdateEventFlows, the changes of AddProgressBatch) once
// they return: the Engine reuses that memory for its next event. A store
// copies what it keeps, as io.Writer implementations copy p.
type Store interface {
	storage.IdempotencyStore
	storage.CounterStore

	// PutCampaign stores c when c.Version equals the stored version (0 for
	// a new campaign) and returns it with Version increased by one;
	// storage.ErrConflict otherwise.
	PutCampaign(ctx context.Context, tenant storage.TenantID, c Campaign) (Campaign, error)
	// Campaign returns a campaign; ErrCampaignNotFound.
	Campaign(ctx context.Context, tenant storage.TenantID, id string) (Campaign, error)
	// ActiveCampaigns returns the active campaigns that listen to typ,
	// ordered by ID. Callers must not modify the returned campaigns.
	ActiveCampaigns(ctx context.Context, tenant storage.TenantID, typ EventType) ([]Campaign, error)
	// SetCampaignStatus moves a campaign from one status to another when
	// it is in from, and reports whether it did; ErrCampaignNotFound.
	SetCampaignStatus(ctx context.Context, tenant storage.TenantID, id string, from, to Status) (bool, error)

	// SaveEvent stores the record of a processed forward event and returns
	// the reverse events that were parked waiting for it, removing them.
	// storage.ErrDuplicate when the event was already saved.
	SaveEvent(ctx context.Context, tenant storage.TenantID, rec EventRecord) ([]Event, error)
	// LinkReverse returns the record of the forward event forwardID and
	// true when it was saved; otherwise it parks rev until SaveEvent of
	// forwardID returns it, and returns false. Calls for one forward ID
	// are serialized with each other and with its SaveEvent.
	LinkReverse(ctx context.Context, tenant storage.TenantID, forwardID string, rev Event) (EventRecord, bool, error)
	// UpdateEventFlows replaces the flows of a saved record (to record how
	// much reverses took back); ErrNotFound (storage) when not saved.
	UpdateEventFlows(ctx context.Context, tenant storage.TenantID, id string, flows []Flow) error

	// AddProgress adds delta (which may be zero) to a participant's value,
	// creating the row at zero, and moves ReachedAt to at when at is later,
	// so that ReachedAt is the latest event time among the flows applied,
	// whatever their arrival order. It returns the row as it now is.
	AddProgress(ctx context.Context, tenant storage.TenantID, key ProgressKey, delta int64, at time.Time) (Progress, error)
	// Progress returns a participant's row; ErrNoProgress.
	Progress(ctx context.Context, tenant storage.TenantID, key ProgressKey) (Progress, error)
	// ListProgress returns every row of a campaign's period, ordered by
	// participant, from participant after (exclusive; "" for the start),
	// at most limit rows.
	ListProgress(ctx context.Context, tenant storage.TenantID, campaign, period, after string, limit int) ([]Progress, error)
	// Leaderboard returns the first limit rows of a campaign's period in
	// rank order: Value descending, ReachedAt ascending, Participant
	// ascending.
	Leaderboard(ctx context.Context, tenant storage.TenantID, campaign, period string, limit int) ([]Progress, error)
	// Rank returns a participant's 1-based rank in that order and its row;
	// ErrNoProgress.
	Rank(ctx context.Context, tenant storage.TenantID, key ProgressKey) (int, Progress, error)

	// ClaimGrant records g as awarded when its key has no grant, or when
	// the grant there was clawed back (then Seq grows by one), and returns
	// the grant as stored and true. When the key's grant is awarded it
	// changes nothing and returns that grant and false.
	ClaimGrant(ctx context.Context, tenant storage.TenantID, g Grant) (Grant, bool, error)
	// RevokeGrant marks an awarded grant clawed back at at and returns it
	// and true; a grant not awarded is returned unchanged with false;
	// storage.ErrNotFound when there is none.
	RevokeGrant(ctx context.Context, tenant storage.TenantID, key GrantKey, at time.Time) (Grant, bool, error)
	// SetGrantRef stores the Awarder's reference of the grant's current
	// award; storage.ErrNotFound.
	SetGrantRef(ctx context.Context, tenant storage.TenantID, key GrantKey, ref string) error
	// Grants returns a campaign's grants ordered by key (period,
	// participant, slot); period "" means every period and participant ""
	// every participant.
	Grants(ctx context.Context, tenant storage.TenantID, campaign, period, participant string) ([]Grant, error)
}

// ProgressBatchStore is a Store that applies several progress changes in
// one call. The Engine uses it, when its Store has it, to apply the
// changes one event makes to the campaigns that counted it; the adapters
// of this module have it.
type ProgressBatchStore interface {
	// AddProgressBatch does what AddProgress does for each change, in
	// order, and returns the value each change left its row at (one per
	// change). It joins the transaction in ctx and, like AddProgress, runs
	// in one of its own when there is none: all the changes or none.
	AddProgressBatch(ctx context.Context, tenant storage.TenantID, changes []ProgressChange) ([]int64, error)
}

// ProgressChange is one change of AddProgressBatch: add Delta (which may
// be zero) to the row of Key, and move its ReachedAt to At when At is
// later.
type ProgressChange struct {
	Key   ProgressKey
	Delta int64
	At    time.Time
}

// Flow is the contribution of one event to one participant's indicator in
// one campaign: Delta in the indicator's unit (orders, minor units,
// weighted quantity, attendance marks). Reversed is how much reverse
// events took back from a forward flow.
type Flow struct {
	Campaign    string `json:"campaign"`
	Participant string `json:"participant"`
	Period      string `json:"period"`
	Delta       int64  `json:"delta"`
	Reversed    int64  `json:"reversed,omitempty"`
	// Day is the attendance day (AttendanceDays only).
	Day string `json:"day,omitempty"`
}

// EventRecord is a processed forward event with the flows it produced,
// kept so that a reverse event can take them back.
type EventRecord struct {
	ID    string    `json:"id"`
	Type  EventType `json:"type"`
	Time  time.Time `json:"time"`
	Flows []Flow    `json:"flows"`
}

// ProgressKey names one participant's progress in one campaign period.
type ProgressKey struct {
	Campaign    string `json:"campaign"`
	Period      string `json:"period"`
	Participant string `json:"participant"`
}

// Progress is a participant's indicator value in one campaign period.
// ReachedAt is the latest event time among the events that moved (or, for
// reverses and attendance marks, touched) the value: for a stream of
// forward events, the time the current value was reached. It is the
// tie-break of rankings (earlier reach wins) and never depends on arrival
// order.
type Progress struct {
	ProgressKey
	Value     int64     `json:"value"`
	ReachedAt time.Time `json:"reached_at"`
}

// GrantKey names one award slot: a tier ("tier/0") or a rank ("rank/3")
// of one participant in one campaign period.
type GrantKey struct {
	Campaign    string `json:"campaign"`
	Period      string `json:"period"`
	Participant string `json:"participant"`
	Slot        string `json:"slot"`
}

// GrantStatus is where a grant stands.
type GrantStatus string

// Grant statuses.
const (
	GrantAwarded    GrantStatus = "awarded"
	GrantClawedBack GrantStatus = "clawed_back"
)

// Grant is an award given to a participant (and perhaps taken back).
// Seq counts how many times the slot was awarded; the Awarder's key is
// unique per (slot, Seq).
type Grant struct {
	GrantKey
	Award   Award       `json:"award"`
	Status  GrantStatus `json:"status"`
	Seq     int64       `json:"seq"`
	Ref     string      `json:"ref,omitempty"`
	EventID string      `json:"event_id,omitempty"` // the event that earned it ("" for rank awards)
	At      time.Time   `json:"at"`
}

// AwardKey is the idempotency key the Awarder receives for the grant's
// current award.
func (g Grant) AwardKey() string {
	return "reward/" + g.Campaign + "/" + g.Period + "/" + g.Participant + "/" + g.Slot + "/" + itoa(g.Seq)
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// BudgetKey is the CounterStore key of a campaign's spent budget.
func BudgetKey(campaign string) string { return "reward/budget/" + campaign }

// attendanceKey is the CounterStore key of a participant's attendance
// marks on one day.
func attendanceKey(f Flow) string {
	return "reward/att/" + f.Campaign + "/" + f.Period + "/" + f.Participant + "/" + f.Day
}
