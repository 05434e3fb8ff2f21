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
// reverses parked until then. A slot is replaced, never changed, so that
// an undo only puts the old one back.
type rwSlot struct {
	saved  bool
	rec    reward.EventRecord
	parked []reward.Event
}

// rewardState holds package reward's records.
type rewardState struct {
	campaigns map[rwCampKey]reward.Campaign
	active    map[rwTypeKey][]reward.Campaign // active campaigns by event type, ordered by ID
	events    map[rwCampKey]*rwSlot           // keyed by tenant and event ID
	boards    map[rwBoardKey]*rwBoard
	grants    map[rwCampKey]map[rwPartKey]*rwGrants
	members   map[rwCampKey]*lyMember // loyalty members by tenant and ID
}

func (r *rewardState) init() {
	r.campaigns = map[rwCampKey]reward.Campaign{}
	r.active = map[rwTypeKey][]reward.Campaign{}
	r.events = map[rwCampKey]*rwSlot{}
	r.boards = map[rwBoardKey]*rwBoard{}
	r.grants = map[rwCampKey]map[rwPartKey]*rwGrants{}
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
		if existed && slot.saved {
			return fmt.Errorf("%w: event %q", storage.ErrDuplicate, rec.ID)
		}
		next := &rwSlot{saved: true, rec: rec}
		next.rec.Flows = slices.Clone(rec.Flows)
		s.reward.events[k] = next
		if !existed {
			t.onUndo(func() { delete(s.reward.events, k) })
			return nil
		}
		parked = slot.parked
		t.onUndo(func() { s.reward.events[k] = slot })
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
		if existed && slot.saved {
			out = slot.rec
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
		if !ok || !slot.saved {
			return fmt.Errorf("%w: event %q", storage.ErrNotFound, id)
		}
		next := &rwSlot{saved: true, rec: slot.rec}
		next.rec.Flows = slices.Clone(flows)
		s.reward.events[k] = next
		t.onUndo(func() { s.reward.events[k] = slot })
		return nil
	})
}

func (s *Store) board(k rwBoardKey, create bool) *rwBoard {
	b := s.reward.boards[k]
	if b == nil && create {
		b = newBoard(k.campaign, k.period)
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
		u := &rwProgressUndo{}
		u.steps = u.one[:0]
		var err error
		out, err = s.addProgress(u, tenant, key, delta, at)
		if len(u.steps) > 0 {
			t.onUndoer(u)
		}
		return err
	})
	return out, err
}

// AddProgressBatch implements reward.ProgressBatchStore: the changes of
// one event in one call, with one undo record for all of them.
func (r *RewardStore) AddProgressBatch(ctx context.Context, tenant storage.TenantID, changes []reward.ProgressChange) ([]int64, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	out := make([]int64, len(changes))
	err := s.do(ctx, func(t *txn) error {
		u := &rwProgressUndo{steps: make([]rwProgressStep, 0, len(changes))}
		for i := range changes {
			ch := &changes[i]
			p, err := s.addProgress(u, tenant, ch.Key, ch.Delta, ch.At)
			if err != nil {
				if len(u.steps) > 0 {
					t.onUndoer(u) // do takes back the changes made so far
				}
				return err
			}
			out[i] = p.Value
		}
		if len(u.steps) > 0 {
			t.onUndoer(u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// addProgress moves one row and records how to take it back in u.
func (s *Store) addProgress(u *rwProgressUndo, tenant storage.TenantID, key reward.ProgressKey, delta int64, at time.Time) (reward.Progress, error) {
	b := s.board(rwBoardKey{tenant, key.Campaign, key.Period}, true)
	i, existed := b.ids[key.Participant]
	var value int64
	var reached time.Time
	if existed {
		value, reached = b.rows[i].value, b.rows[i].reachedAt
	}
	next := value + delta
	if (delta > 0 && next < value) || (delta < 0 && next > value) {
		return reward.Progress{}, fmt.Errorf("%w: progress of %q overflows", storage.ErrInvalidArgument, key.Participant)
	}
	nextAt := reached
	if at.After(reached) {
		nextAt = at
	}
	if existed {
		b.rows[i].value, b.rows[i].reachedAt = next, nextAt
	} else {
		i = int32(len(b.rows))
		b.ids[key.Participant] = i
		b.rows = append(b.rows, rwRow{participant: key.Participant, value: next, reachedAt: nextAt})
	}
	b.touch(i)
	u.steps = append(u.steps, rwProgressStep{b: b, row: i, value: value, reachedAt: reached, created: !existed})
	return reward.Progress{ProgressKey: key, Value: next, ReachedAt: nextAt}, nil
}

// rwProgressUndo takes back progress changes, last first.
type rwProgressUndo struct {
	steps []rwProgressStep
	one   [1]rwProgressStep // the step of a single AddProgress
}

// rwProgressStep is one row's state before a change.
type rwProgressStep struct {
	b         *rwBoard
	row       int32
	created   bool
	value     int64
	reachedAt time.Time
}

func (u *rwProgressUndo) undo() {
	for i := len(u.steps) - 1; i >= 0; i-- {
		st := &u.steps[i]
		if st.created {
			st.b.drop(st.row)
			continue
		}
		r := &st.b.rows[st.row]
		r.value, r.reachedAt = st.value, st.reachedAt
		st.b.touch(st.row)
	}
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
			if i, ok := b.ids[key.Participant]; ok {
				out = b.progress(i)
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
		ids := make([]string, 0, len(b.ids))
		for id := range b.ids {
			if id > after {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids[:min(limit, len(ids))] {
			out = append(out, b.progress(b.ids[id]))
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
			b.sync()
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
			if i, ok := b.ids[key.Participant]; ok {
				b.sync()
				rank, out = b.rank(i), b.progress(i)
				return nil
			}
		}
		return fmt.Errorf("%w: %s/%s/%s", reward.ErrNoProgress, key.Campaign, key.Period, key.Participant)
	})
	return rank, out, err
}

// rwGrants holds the grants of one participant in one campaign period: a
// short list by slot, since a campaign has a few tiers (a ranking one rank
// slot per participant).
type rwGrants struct{ list []reward.Grant }

// get returns the grant of slot.
func (gs *rwGrants) get(slot string) (reward.Grant, bool) {
	if gs != nil {
		for i := range gs.list {
			if gs.list[i].Slot == slot {
				return gs.list[i], true
			}
		}
	}
	return reward.Grant{}, false
}

func (s *Store) grantsOf(tenant storage.TenantID, k reward.GrantKey, create bool) *rwGrants {
	ck := rwCampKey{tenant, k.Campaign}
	parts := s.reward.grants[ck]
	if parts == nil {
		if !create {
			return nil
		}
		parts = map[rwPartKey]*rwGrants{}
		s.reward.grants[ck] = parts
	}
	pk := rwPartKey{k.Period, k.Participant}
	gs := parts[pk]
	if gs == nil && create {
		gs = &rwGrants{}
		parts[pk] = gs
	}
	return gs
}

func (s *Store) setGrant(t *txn, tenant storage.TenantID, g reward.Grant) {
	gs := s.grantsOf(tenant, g.GrantKey, true)
	for i := range gs.list {
		if gs.list[i].Slot == g.Slot {
			old := gs.list[i]
			gs.list[i] = g
			t.onUndo(func() { gs.list[i] = old })
			return
		}
	}
	gs.list = append(gs.list, g)
	// Undone last first: the grant added is the last of the list by then.
	t.onUndo(func() {
		n := len(gs.list) - 1
		gs.list[n] = reward.Grant{}
		gs.list = gs.list[:n]
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
		old, existed := s.grantsOf(tenant, g.GrantKey, false).get(g.Slot)
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
		g, existed := s.grantsOf(tenant, key, false).get(key.Slot)
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
		g, existed := s.grantsOf(tenant, key, false).get(key.Slot)
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
			if gs := s.grantsOf(tenant, reward.GrantKey{Campaign: campaign, Period: period, Participant: participant}, false); gs != nil {
				out = append(out, gs.list...)
			}
		} else {
			for pk, gs := range s.reward.grants[rwCampKey{tenant, campaign}] {
				if (period != "" && pk.period != period) || (participant != "" && pk.participant != participant) {
					continue
				}
				out = append(out, gs.list...)
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
// sorted blocks of compact entries so that a top-N read and a rank are
// cheap at 100,000 participants. The entries point at rows by number
// rather than by participant, so that they hold no pointer: moving them
// is a plain memory move, and the collector never scans them.
//
// The index follows the rows lazily. A write only notes the row it moved;
// the next read that needs the order (Leaderboard, Rank) moves the noted
// rows in the index, or re-sorts the whole index when so many rows moved
// that sorting is cheaper. Most boards are written by every event and
// ranked rarely or never (a challenge's), so counting an event does no
// index work at all; a row written many times between two reads moves
// once.
type rwBoard struct {
	campaign, period string
	ids              map[string]int32 // participant -> row
	rows             []rwRow
	blocks           [][]rwEntry
	dirty            []int32 // rows written since the last sync, each once
	stale            bool    // too many rows written: re-sort at the next sync
}

// rwRow is one participant's progress, with its place in the index as of
// the last sync.
type rwRow struct {
	participant string
	value       int64
	reachedAt   time.Time
	indexed     rwEntry // valid when inIndex
	inIndex     bool
	dirty       bool // listed in rwBoard.dirty
}

// rwEntry is a row's place in the rank order.
type rwEntry struct {
	value int64
	at    int64 // ReachedAt in Unix nanoseconds
	row   int32
}

func newBoard(campaign, period string) *rwBoard {
	return &rwBoard{campaign: campaign, period: period, ids: map[string]int32{}}
}

func (b *rwBoard) entry(i int32) rwEntry {
	r := &b.rows[i]
	return rwEntry{value: r.value, at: r.reachedAt.UnixNano(), row: i}
}

func (b *rwBoard) progress(i int32) reward.Progress {
	r := &b.rows[i]
	return reward.Progress{ProgressKey: reward.ProgressKey{Campaign: b.campaign, Period: b.period, Participant: r.participant},
		Value: r.value, ReachedAt: r.reachedAt}
}

// touch notes that row i was written.
func (b *rwBoard) touch(i int32) {
	r := &b.rows[i]
	if r.dirty || b.stale {
		return
	}
	if len(b.dirty) >= 64+len(b.rows)/8 {
		// Moving this many rows one by one costs more than a sort.
		b.stale = true
		for _, j := range b.dirty {
			b.rows[j].dirty = false
		}
		b.dirty = nil
		return
	}
	r.dirty = true
	b.dirty = append(b.dirty, i)
}

// drop removes row i, which was created last (its creation is being
// undone, and undos run last first).
func (b *rwBoard) drop(i int32) {
	r := &b.rows[i]
	if r.inIndex {
		b.unindex(r.indexed)
	}
	if r.dirty {
		for k := len(b.dirty) - 1; k >= 0; k-- {
			if b.dirty[k] == i {
				b.dirty = slices.Delete(b.dirty, k, k+1)
				break
			}
		}
	}
	delete(b.ids, r.participant)
	b.rows[i] = rwRow{}
	b.rows = b.rows[:i]
}

// sync brings the index up to date with the rows.
func (b *rwBoard) sync() {
	if b.stale {
		all := make([]rwEntry, len(b.rows))
		for i := range b.rows {
			e := b.entry(int32(i))
			all[i] = e
			b.rows[i].indexed, b.rows[i].inIndex = e, true
		}
		slices.SortFunc(all, b.compare)
		b.blocks = b.blocks[:0]
		for len(all) > 0 {
			n := min(rwBlock, len(all))
			b.blocks = append(b.blocks, all[:n:n])
			all = all[n:]
		}
		b.stale = false
		return
	}
	for _, i := range b.dirty {
		r := &b.rows[i]
		e := b.entry(i)
		if r.inIndex {
			if r.indexed == e {
				r.dirty = false
				continue
			}
			b.unindex(r.indexed)
		}
		b.index(e)
		r.indexed, r.inIndex, r.dirty = e, true, false
	}
	b.dirty = b.dirty[:0]
}

// compare orders entries by rank: value descending, then ReachedAt, then
// participant.
func (b *rwBoard) compare(x, y rwEntry) int {
	switch {
	case x.value > y.value:
		return -1
	case x.value < y.value:
		return 1
	case x.at < y.at:
		return -1
	case x.at > y.at:
		return 1
	case x.row == y.row:
		return 0
	}
	return rwCmpString(b.rows[x.row].participant, b.rows[y.row].participant)
}

const rwBlock = 128

// find returns the block that holds e, or would: the first whose last
// entry is not before e (the last block when e sorts after everything).
func (b *rwBoard) find(e rwEntry) int {
	i := sort.Search(len(b.blocks), func(i int) bool {
		blk := b.blocks[i]
		return b.compare(blk[len(blk)-1], e) >= 0
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
	j, _ := slices.BinarySearchFunc(blk, e, b.compare)
	blk = slices.Insert(blk, j, e)
	if len(blk) > 2*rwBlock {
		right := make([]rwEntry, len(blk)-rwBlock, 2*rwBlock)
		copy(right, blk[rwBlock:])
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
	j, ok := slices.BinarySearchFunc(blk, e, b.compare)
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
			out = append(out, b.progress(e.row))
		}
	}
	return out
}

func (b *rwBoard) rank(i int32) int {
	e := b.entry(i)
	bi := b.find(e)
	r := 0
	for _, blk := range b.blocks[:bi] {
		r += len(blk)
	}
	j, _ := slices.BinarySearchFunc(b.blocks[bi], e, b.compare)
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
