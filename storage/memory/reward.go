package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

var (
	_ reward.Store        = (*RewardStore)(nil)
	_ reward.LoyaltyStore = (*RewardStore)(nil)
)

// RewardStore is the Store's view as a reward.Store.
type RewardStore struct{ s *Store }

// Rewards returns the store as a reward.Store; pass the Store itself as
// the reward Engine's Transactor.
func (s *Store) Rewards() reward.Store { return &RewardStore{s} }

// ClaimIdempotencyKey implements storage.IdempotencyStore.
func (r *RewardStore) ClaimIdempotencyKey(ctx context.Context, rec storage.IdempotencyRecord) (*storage.IdempotencyRecord, error) {
	return r.s.ClaimIdempotencyKey(ctx, rec)
}

// CompleteIdempotencyKey implements storage.IdempotencyStore.
func (r *RewardStore) CompleteIdempotencyKey(ctx context.Context, tenant storage.TenantID, operation, key string, result []byte) error {
	return r.s.CompleteIdempotencyKey(ctx, tenant, operation, key, result)
}

// AddCounter implements storage.CounterStore.
func (r *RewardStore) AddCounter(ctx context.Context, tenant storage.TenantID, key string, delta int64, bounds storage.Bounds) (int64, bool, error) {
	return r.s.AddCounter(ctx, tenant, key, delta, bounds)
}

// Counter implements storage.CounterStore.
func (r *RewardStore) Counter(ctx context.Context, tenant storage.TenantID, key string) (int64, error) {
	return r.s.Counter(ctx, tenant, key)
}

type rwCampKey struct {
	tenant storage.TenantID
	id     string
}

type rwTypeKey struct {
	tenant storage.TenantID
	typ    reward.EventType
}

type rwBoardKey struct {
	tenant   storage.TenantID
	campaign string
	period   string
}

type rwPartKey struct {
	period      string
	participant string
}

// rwSlot is a forward event's place: its record once saved, and the
// reverses parked until then.
type rwSlot struct {
	rec    *reward.EventRecord
	parked []reward.Event
}

// rewardState holds package reward's records.
type rewardState struct {
	campaigns map[rwCampKey]reward.Campaign
	active    map[rwTypeKey][]reward.Campaign // active campaigns by event type, ordered by ID
	events    map[rwCampKey]*rwSlot           // keyed by tenant and event ID
	boards    map[rwBoardKey]*rwBoard
	grants    map[rwCampKey]map[rwPartKey]map[string]reward.Grant
	members   map[rwCampKey]*lyMember // loyalty members by tenant and ID
}

func (r *rewardState) init() {
	r.campaigns = map[rwCampKey]reward.Campaign{}
	r.active = map[rwTypeKey][]reward.Campaign{}
	r.events = map[rwCampKey]*rwSlot{}
	r.boards = map[rwBoardKey]*rwBoard{}
	r.grants = map[rwCampKey]map[rwPartKey]map[string]reward.Grant{}
	r.members = map[rwCampKey]*lyMember{}
}

// reindex rebuilds the active index of a tenant.
func (r *rewardState) reindex(tenant storage.TenantID) {
	for k := range r.active {
		if k.tenant == tenant {
			delete(r.active, k)
		}
	}
	var ids []rwCampKey
	for k, c := range r.campaigns {
		if k.tenant == tenant && c.Status == reward.StatusActive {
			ids = append(ids, k)
		}
	}
	slices.SortFunc(ids, func(a, b rwCampKey) int { return rwCmpString(a.id, b.id) })
	for _, k := range ids {
		c := r.campaigns[k]
		for _, t := range c.EventTypes {
			tk := rwTypeKey{tenant, t}
			if !slices.ContainsFunc(r.active[tk], func(x reward.Campaign) bool { return x.ID == c.ID }) {
				r.active[tk] = append(r.active[tk], c)
			}
		}
	}
}

func (s *Store) setCampaign(t *txn, k rwCampKey, c reward.Campaign) {
	old, existed := s.reward.campaigns[k]
	s.reward.campaigns[k] = c
	s.reward.reindex(k.tenant)
	t.onUndo(func() {
		if existed {
			s.reward.campaigns[k] = old
		} else {
			delete(s.reward.campaigns, k)
		}
		s.reward.reindex(k.tenant)
	})
}

// PutCampaign implements reward.Store.
func (r *RewardStore) PutCampaign(ctx context.Context, tenant storage.TenantID, c reward.Campaign) (reward.Campaign, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.Campaign{}, err
	}
	var out reward.Campaign
	err := s.do(ctx, func(t *txn) error {
		k := rwCampKey{tenant, c.ID}
		old, existed := s.reward.campaigns[k]
		if (existed && old.Version != c.Version) || (!existed && c.Version != 0) {
			return fmt.Errorf("%w: campaign %q version %d is stale", storage.ErrConflict, c.ID, c.Version)
		}
		c = c.Clone()
		c.Version++
		s.setCampaign(t, k, c)
		out = c.Clone()
		return nil
	})
	return out, err
}

// Campaign implements reward.Store.
func (r *RewardStore) Campaign(ctx context.Context, tenant storage.TenantID, id string) (reward.Campaign, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.Campaign{}, err
	}
	var out reward.Campaign
	err := s.do(ctx, func(*txn) error {
		c, ok := s.reward.campaigns[rwCampKey{tenant, id}]
		if !ok {
			return fmt.Errorf("%w: %q", reward.ErrCampaignNotFound, id)
		}
		out = c.Clone()
		return nil
	})
	return out, err
}

// ActiveCampaigns implements reward.Store.
func (r *RewardStore) ActiveCampaigns(ctx context.Context, tenant storage.TenantID, typ reward.EventType) ([]reward.Campaign, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []reward.Campaign
	err := s.do(ctx, func(*txn) error {
		// The index is rebuilt, never modified in place, on every change,
		// and callers must not modify what they get: no copy needed.
		out = s.reward.active[rwTypeKey{tenant, typ}]
		return nil
	})
	return out, err
}

// SetCampaignStatus implements reward.Store.
func (r *RewardStore) SetCampaignStatus(ctx context.Context, tenant storage.TenantID, id string, from, to reward.Status) (bool, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return false, err
	}
	var ok bool
	err := s.do(ctx, func(t *txn) error {
		k := rwCampKey{tenant, id}
		c, found := s.reward.campaigns[k]
		if !found {
			return fmt.Errorf("%w: %q", reward.ErrCampaignNotFound, id)
		}
		if c.Status != from {
			return nil
		}
		c = c.Clone()
		c.Status = to
		s.setCampaign(t, k, c)
		ok = true
		return nil
	})
	return ok, err
}

// SaveEvent implements reward.Store.
func (r *RewardStore) SaveEvent(ctx context.Context, tenant storage.TenantID, rec reward.EventRecord) ([]reward.Event, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var parked []reward.Event
	err := s.do(ctx, func(t *txn) error {
		k := rwCampKey{tenant, rec.ID}
		slot, existed := s.reward.events[k]
		if existed && slot.rec != nil {
			return fmt.Errorf("%w: event %q", storage.ErrDuplicate, rec.ID)
		}
		rec.Flows = slices.Clone(rec.Flows)
		s.reward.events[k] = &rwSlot{rec: &rec}
		if existed {
			parked = slot.parked
		}
		t.onUndo(func() {
			if existed {
				s.reward.events[k] = slot
			} else {
				delete(s.reward.events, k)
			}
		})
		return nil
	})
	return parked, err
}

// LinkReverse implements reward.Store.
func (r *RewardStore) LinkReverse(ctx context.Context, tenant storage.TenantID, forwardID string, rev reward.Event) (reward.EventRecord, bool, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.EventRecord{}, false, err
	}
	var out reward.EventRecord
	var found bool
	err := s.do(ctx, func(t *txn) error {
		k := rwCampKey{tenant, forwardID}
		slot, existed := s.reward.events[k]
		if existed && slot.rec != nil {
			out = *slot.rec
			out.Flows = slices.Clone(out.Flows)
			found = true
			return nil
		}
		next := &rwSlot{}
		if existed {
			next.parked = slices.Clone(slot.parked)
		}
		next.parked = append(next.parked, rev)
		s.reward.events[k] = next
		t.onUndo(func() {
			if existed {
				s.reward.events[k] = slot
			} else {
				delete(s.reward.events, k)
			}
		})
		return nil
	})
	return out, found, err
}

// UpdateEventFlows implements reward.Store.
func (r *RewardStore) UpdateEventFlows(ctx context.Context, tenant storage.TenantID, id string, flows []reward.Flow) error {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return err
	}
	return s.do(ctx, func(t *txn) error {
		k := rwCampKey{tenant, id}
		slot, ok := s.reward.events[k]
		if !ok || slot.rec == nil {
			return fmt.Errorf("%w: event %q", storage.ErrNotFound, id)
		}
		rec := *slot.rec
		rec.Flows = slices.Clone(flows)
		s.reward.events[k] = &rwSlot{rec: &rec}
		t.onUndo(func() { s.reward.events[k] = slot })
		return nil
	})
}

func (s *Store) board(k rwBoardKey, create bool) *rwBoard {
	b := s.reward.boards[k]
	if b == nil && create {
		b = newBoard()
		s.reward.boards[k] = b
	}
	return b
}

// AddProgress implements reward.Store.
func (r *RewardStore) AddProgress(ctx context.Context, tenant storage.TenantID, key reward.ProgressKey, delta int64, at time.Time) (reward.Progress, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.Progress{}, err
	}
	var out reward.Progress
	err := s.do(ctx, func(t *txn) error {
		b := s.board(rwBoardKey{tenant, key.Campaign, key.Period}, true)
		old, existed := b.rows[key.Participant]
		next := old
		next.ProgressKey = key
		next.Value += delta
		if (delta > 0 && next.Value < old.Value) || (delta < 0 && next.Value > old.Value) {
			return fmt.Errorf("%w: progress of %q overflows", storage.ErrInvalidArgument, key.Participant)
		}
		if at.After(next.ReachedAt) {
			next.ReachedAt = at
		}
		b.put(next, old, existed)
		t.onUndo(func() {
			if existed {
				b.put(old, next, true)
			} else {
				b.remove(next)
			}
		})
		out = next
		return nil
	})
	return out, err
}

// Progress implements reward.Store.
func (r *RewardStore) Progress(ctx context.Context, tenant storage.TenantID, key reward.ProgressKey) (reward.Progress, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.Progress{}, err
	}
	var out reward.Progress
	err := s.do(ctx, func(*txn) error {
		b := s.board(rwBoardKey{tenant, key.Campaign, key.Period}, false)
		if b != nil {
			if p, ok := b.rows[key.Participant]; ok {
				out = p
				return nil
			}
		}
		return fmt.Errorf("%w: %s/%s/%s", reward.ErrNoProgress, key.Campaign, key.Period, key.Participant)
	})
	return out, err
}

// ListProgress implements reward.Store.
func (r *RewardStore) ListProgress(ctx context.Context, tenant storage.TenantID, campaign, period, after string, limit int) ([]reward.Progress, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", storage.ErrInvalidArgument, limit)
	}
	var out []reward.Progress
	err := s.do(ctx, func(*txn) error {
		b := s.board(rwBoardKey{tenant, campaign, period}, false)
		if b == nil {
			return nil
		}
		ids := make([]string, 0, len(b.rows))
		for id := range b.rows {
			if id > after {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids[:min(limit, len(ids))] {
			out = append(out, b.rows[id])
		}
		return nil
	})
	return out, err
}

// Leaderboard implements reward.Store.
func (r *RewardStore) Leaderboard(ctx context.Context, tenant storage.TenantID, campaign, period string, limit int) ([]reward.Progress, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", storage.ErrInvalidArgument, limit)
	}
	var out []reward.Progress
	err := s.do(ctx, func(*txn) error {
		if b := s.board(rwBoardKey{tenant, campaign, period}, false); b != nil {
			out = b.top(limit)
		}
		return nil
	})
	return out, err
}

// Rank implements reward.Store.
func (r *RewardStore) Rank(ctx context.Context, tenant storage.TenantID, key reward.ProgressKey) (int, reward.Progress, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return 0, reward.Progress{}, err
	}
	var rank int
	var out reward.Progress
	err := s.do(ctx, func(*txn) error {
		b := s.board(rwBoardKey{tenant, key.Campaign, key.Period}, false)
		if b != nil {
			if p, ok := b.rows[key.Participant]; ok {
				rank, out = b.rank(p), p
				return nil
			}
		}
		return fmt.Errorf("%w: %s/%s/%s", reward.ErrNoProgress, key.Campaign, key.Period, key.Participant)
	})
	return rank, out, err
}

func (s *Store) grantSlots(tenant storage.TenantID, k reward.GrantKey, create bool) map[string]reward.Grant {
	ck := rwCampKey{tenant, k.Campaign}
	parts := s.reward.grants[ck]
	if parts == nil {
		if !create {
			return nil
		}
		parts = map[rwPartKey]map[string]reward.Grant{}
		s.reward.grants[ck] = parts
	}
	pk := rwPartKey{k.Period, k.Participant}
	slots := parts[pk]
	if slots == nil && create {
		slots = map[string]reward.Grant{}
		parts[pk] = slots
	}
	return slots
}

func (s *Store) setGrant(t *txn, tenant storage.TenantID, g reward.Grant) {
	slots := s.grantSlots(tenant, g.GrantKey, true)
	old, existed := slots[g.Slot]
	slots[g.Slot] = g
	t.onUndo(func() {
		if existed {
			slots[g.Slot] = old
		} else {
			delete(slots, g.Slot)
		}
	})
}

// ClaimGrant implements reward.Store.
func (r *RewardStore) ClaimGrant(ctx context.Context, tenant storage.TenantID, g reward.Grant) (reward.Grant, bool, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.Grant{}, false, err
	}
	var out reward.Grant
	var ok bool
	err := s.do(ctx, func(t *txn) error {
		old, existed := s.grantSlots(tenant, g.GrantKey, false)[g.Slot]
		if existed && old.Status == reward.GrantAwarded {
			out = old
			return nil
		}
		g.Status, g.Seq, g.Ref = reward.GrantAwarded, old.Seq+1, ""
		s.setGrant(t, tenant, g)
		out, ok = g, true
		return nil
	})
	return out, ok, err
}

// RevokeGrant implements reward.Store.
func (r *RewardStore) RevokeGrant(ctx context.Context, tenant storage.TenantID, key reward.GrantKey, at time.Time) (reward.Grant, bool, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.Grant{}, false, err
	}
	var out reward.Grant
	var ok bool
	err := s.do(ctx, func(t *txn) error {
		g, existed := s.grantSlots(tenant, key, false)[key.Slot]
		if !existed {
			return fmt.Errorf("%w: grant %s/%s/%s/%s", storage.ErrNotFound, key.Campaign, key.Period, key.Participant, key.Slot)
		}
		if g.Status != reward.GrantAwarded {
			out = g
			return nil
		}
		g.Status, g.At = reward.GrantClawedBack, at
		s.setGrant(t, tenant, g)
		out, ok = g, true
		return nil
	})
	return out, ok, err
}

// SetGrantRef implements reward.Store.
func (r *RewardStore) SetGrantRef(ctx context.Context, tenant storage.TenantID, key reward.GrantKey, ref string) error {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return err
	}
	return s.do(ctx, func(t *txn) error {
		g, existed := s.grantSlots(tenant, key, false)[key.Slot]
		if !existed {
			return fmt.Errorf("%w: grant %s/%s/%s/%s", storage.ErrNotFound, key.Campaign, key.Period, key.Participant, key.Slot)
		}
		g.Ref = ref
		s.setGrant(t, tenant, g)
		return nil
	})
}

// Grants implements reward.Store.
func (r *RewardStore) Grants(ctx context.Context, tenant storage.TenantID, campaign, period, participant string) ([]reward.Grant, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []reward.Grant
	err := s.do(ctx, func(*txn) error {
		if period != "" && participant != "" {
			for _, g := range s.grantSlots(tenant, reward.GrantKey{Campaign: campaign, Period: period, Participant: participant}, false) {
				out = append(out, g)
			}
		} else {
			for pk, slots := range s.reward.grants[rwCampKey{tenant, campaign}] {
				if (period != "" && pk.period != period) || (participant != "" && pk.participant != participant) {
					continue
				}
				for _, g := range slots {
					out = append(out, g)
				}
			}
		}
		slices.SortFunc(out, func(a, b reward.Grant) int { return reward.CompareGrantKey(a.GrantKey, b.GrantKey) })
		return nil
	})
	return out, err
}

func rwCmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rwBoard is one campaign period's progress: rows by participant plus an
// ordered index in rank order (reward.CompareStanding), kept as a list of
// sorted blocks of compact entries so that an update, a top-N read and a
// rank are all cheap at 100,000 participants.
type rwBoard struct {
	rows   map[string]reward.Progress
	blocks [][]rwEntry
}

// rwEntry is a row's place in the rank order.
type rwEntry struct {
	value int64
	at    int64 // ReachedAt in Unix nanoseconds
	id    string
}

func rwEntryOf(p reward.Progress) rwEntry {
	return rwEntry{value: p.Value, at: p.ReachedAt.UnixNano(), id: p.Participant}
}

func rwCompare(a, b rwEntry) int {
	switch {
	case a.value > b.value:
		return -1
	case a.value < b.value:
		return 1
	case a.at < b.at:
		return -1
	case a.at > b.at:
		return 1
	}
	return rwCmpString(a.id, b.id)
}

const rwBlock = 128

func newBoard() *rwBoard { return &rwBoard{rows: map[string]reward.Progress{}} }

// put replaces old (when existed) by next in the rows and the index.
func (b *rwBoard) put(next, old reward.Progress, existed bool) {
	if existed {
		b.unindex(rwEntryOf(old))
	}
	b.rows[next.Participant] = next
	b.index(rwEntryOf(next))
}

func (b *rwBoard) remove(p reward.Progress) {
	b.unindex(rwEntryOf(p))
	delete(b.rows, p.Participant)
}

// find returns the block that holds e, or would: the first whose last
// entry is not before e (the last block when e sorts after everything).
func (b *rwBoard) find(e rwEntry) int {
	i := sort.Search(len(b.blocks), func(i int) bool {
		blk := b.blocks[i]
		return rwCompare(blk[len(blk)-1], e) >= 0
	})
	if i == len(b.blocks) && i > 0 {
		i--
	}
	return i
}

func (b *rwBoard) index(e rwEntry) {
	if len(b.blocks) == 0 {
		b.blocks = [][]rwEntry{{e}}
		return
	}
	bi := b.find(e)
	blk := b.blocks[bi]
	j, _ := slices.BinarySearchFunc(blk, e, rwCompare)
	blk = slices.Insert(blk, j, e)
	if len(blk) > 2*rwBlock {
		right := make([]rwEntry, len(blk)-rwBlock, 2*rwBlock)
		copy(right, blk[rwBlock:])
		clear(blk[rwBlock:])
		blk = blk[:rwBlock]
		b.blocks = slices.Insert(b.blocks, bi+1, right)
	}
	b.blocks[bi] = blk
}

func (b *rwBoard) unindex(e rwEntry) {
	if len(b.blocks) == 0 {
		return
	}
	bi := b.find(e)
	blk := b.blocks[bi]
	j, ok := slices.BinarySearchFunc(blk, e, rwCompare)
	if !ok {
		return
	}
	blk = slices.Delete(blk, j, j+1)
	if len(blk) == 0 {
		b.blocks = slices.Delete(b.blocks, bi, bi+1)
		return
	}
	b.blocks[bi] = blk
}

func (b *rwBoard) top(n int) []reward.Progress {
	out := make([]reward.Progress, 0, min(n, len(b.rows)))
	for _, blk := range b.blocks {
		for _, e := range blk {
			if len(out) == n {
				return out
			}
			out = append(out, b.rows[e.id])
		}
	}
	return out
}

func (b *rwBoard) rank(p reward.Progress) int {
	e := rwEntryOf(p)
	bi := b.find(e)
	r := 0
	for _, blk := range b.blocks[:bi] {
		r += len(blk)
	}
	j, _ := slices.BinarySearchFunc(b.blocks[bi], e, rwCompare)
	return r + j + 1
}

// lyMember is a loyalty member with its accruals and tier changes.
type lyMember struct {
	rec      reward.MemberRecord
	accruals []reward.AccrualRecord
	keys     map[string]bool
	tiers    []reward.TierChange
}

// Loyalty returns the store as a reward.LoyaltyStore; pass the Store
// itself as the Loyalty program's Transactor.
func (s *Store) Loyalty() reward.LoyaltyStore { return &RewardStore{s} }

func (s *Store) lyMember(tenant storage.TenantID, id string) (*lyMember, error) {
	m := s.reward.members[rwCampKey{tenant, id}]
	if m == nil {
		return nil, fmt.Errorf("%w: %q", reward.ErrMemberNotFound, id)
	}
	return m, nil
}

// InsertMember implements reward.LoyaltyStore.
func (r *RewardStore) InsertMember(ctx context.Context, tenant storage.TenantID, m reward.MemberRecord) error {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return err
	}
	return s.do(ctx, func(t *txn) error {
		k := rwCampKey{tenant, m.ID}
		if s.reward.members[k] != nil {
			return fmt.Errorf("%w: %q", reward.ErrMemberExists, m.ID)
		}
		s.reward.members[k] = &lyMember{rec: m, keys: map[string]bool{}}
		t.onUndo(func() { delete(s.reward.members, k) })
		return nil
	})
}

// Member implements reward.LoyaltyStore.
func (r *RewardStore) Member(ctx context.Context, tenant storage.TenantID, id string) (reward.MemberRecord, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.MemberRecord{}, err
	}
	var out reward.MemberRecord
	err := s.do(ctx, func(*txn) error {
		m, err := s.lyMember(tenant, id)
		if err == nil {
			out = m.rec
		}
		return err
	})
	return out, err
}

// Members implements reward.LoyaltyStore.
func (r *RewardStore) Members(ctx context.Context, tenant storage.TenantID, after string, limit int) ([]reward.MemberRecord, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", storage.ErrInvalidArgument, limit)
	}
	var out []reward.MemberRecord
	err := s.do(ctx, func(*txn) error {
		for k, m := range s.reward.members {
			if k.tenant == tenant && k.id > after {
				out = append(out, m.rec)
			}
		}
		slices.SortFunc(out, func(a, b reward.MemberRecord) int { return rwCmpString(a.ID, b.ID) })
		if len(out) > limit {
			out = out[:limit]
		}
		return nil
	})
	return out, err
}

// AddAccrual implements reward.LoyaltyStore.
func (r *RewardStore) AddAccrual(ctx context.Context, tenant storage.TenantID, a reward.AccrualRecord) (reward.MemberRecord, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.MemberRecord{}, err
	}
	var out reward.MemberRecord
	err := s.do(ctx, func(t *txn) error {
		m, err := s.lyMember(tenant, a.Member)
		if err != nil {
			return err
		}
		if m.keys[a.Key] {
			return fmt.Errorf("%w: accrual %q of member %q", storage.ErrDuplicate, a.Key, a.Member)
		}
		old := m.rec
		m.keys[a.Key] = true
		m.accruals = append(m.accruals, a)
		m.rec.Lifetime += a.Points
		if a.At.After(m.rec.LastActivity) {
			m.rec.LastActivity = a.At
		}
		t.onUndo(func() {
			m.rec = old
			m.accruals = m.accruals[:len(m.accruals)-1]
			delete(m.keys, a.Key)
		})
		out = m.rec
		return nil
	})
	return out, err
}

// TouchMember implements reward.LoyaltyStore.
func (r *RewardStore) TouchMember(ctx context.Context, tenant storage.TenantID, id string, at time.Time) error {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return err
	}
	return s.do(ctx, func(t *txn) error {
		m, err := s.lyMember(tenant, id)
		if err != nil || !at.After(m.rec.LastActivity) {
			return err
		}
		old := m.rec.LastActivity
		m.rec.LastActivity = at
		t.onUndo(func() { m.rec.LastActivity = old })
		return nil
	})
}

// QualifyingSpend implements reward.LoyaltyStore.
func (r *RewardStore) QualifyingSpend(ctx context.Context, tenant storage.TenantID, member string, since time.Time) (int64, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return 0, err
	}
	var sum int64
	err := s.do(ctx, func(*txn) error {
		m := s.reward.members[rwCampKey{tenant, member}]
		if m == nil {
			return nil
		}
		for _, a := range m.accruals {
			if !a.At.Before(since) {
				sum += a.Spend
			}
		}
		return nil
	})
	return sum, err
}

// SetTier implements reward.LoyaltyStore.
func (r *RewardStore) SetTier(ctx context.Context, tenant storage.TenantID, c reward.TierChange) (reward.TierChange, bool, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.TierChange{}, false, err
	}
	var ok bool
	err := s.do(ctx, func(t *txn) error {
		m, err := s.lyMember(tenant, c.Member)
		if err != nil || m.rec.Tier != c.From {
			return err
		}
		old := m.rec
		m.rec.Tier, m.rec.TierSince = c.To, c.At
		m.rec.TierVersion++
		c.Seq = m.rec.TierVersion
		m.tiers = append(m.tiers, c)
		t.onUndo(func() {
			m.rec = old
			m.tiers = m.tiers[:len(m.tiers)-1]
		})
		ok = true
		return nil
	})
	return c, ok, err
}

// TierChanges implements reward.LoyaltyStore.
func (r *RewardStore) TierChanges(ctx context.Context, tenant storage.TenantID, member string) ([]reward.TierChange, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var out []reward.TierChange
	err := s.do(ctx, func(*txn) error {
		if m := s.reward.members[rwCampKey{tenant, member}]; m != nil {
			out = slices.Clone(m.tiers)
		}
		return nil
	})
	return out, err
}
