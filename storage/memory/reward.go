package memory

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/money"
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

// rewardState holds package reward's records. Events and grants, which
// every counted event adds to, are kept in pointer-free rows (slabs, a
// text arena, names interned), so that a store holding millions of them
// is not scanned by the garbage collector and takes a fraction of the
// memory of Go structs with strings.
type rewardState struct {
	campaigns map[rwCampKey]reward.Campaign
	active    map[rwTypeKey][]reward.Campaign // active campaigns by event type, ordered by ID
	boards    map[rwBoardKey]*rwBoard
	members   map[rwCampKey]*lyMember // loyalty members by tenant and ID

	events rwEvents
	grants rwGrantTable
	// names interns what many rows repeat: tenants, event types, campaign
	// IDs, periods, attendance days, grant slots and statuses.
	names names
	// text keeps the rows' other strings: event IDs, encoded flows,
	// participants, award references. Rollback truncates it.
	text textArena
	locs locations
	seed maphash.Seed
	buf  []byte // scratch for encoding flows, used under the lock only

	rwUndoLog
}

func (r *rewardState) init() {
	r.campaigns = map[rwCampKey]reward.Campaign{}
	r.active = map[rwTypeKey][]reward.Campaign{}
	r.boards = map[rwBoardKey]*rwBoard{}
	r.members = map[rwCampKey]*lyMember{}
	r.seed = maphash.MakeSeed()
	r.events.heads = map[uint32]int32{}
	r.events.parked = map[rwCampKey][]reward.Event{}
	r.grants.heads = map[uint32]int32{}
	r.grants.camps = map[rwCampKey]int32{}
}

// str returns an interned name.
func (r *rewardState) str(i int32) string { return r.names.all[i] }

// hash is the hash of a row's key: a tenant and one or more strings.
func (r *rewardState) hash(tenant storage.TenantID, parts ...string) uint32 {
	h := maphash.String(r.seed, string(tenant))
	for _, p := range parts {
		h = (h ^ maphash.String(r.seed, p)) * 0x100000001b3
	}
	return uint32(h ^ h>>32)
}

// putText copies s into the text arena.
func (r *rewardState) putText(s string) (textRef, int32) {
	ref, b := r.text.alloc(len(s))
	_ = append(b, s...)
	return ref, int32(len(s))
}

// textOf returns a copy of the n bytes at ref.
func (r *rewardState) textOf(ref textRef, n int32) string {
	if n == 0 {
		return ""
	}
	return string(r.text.bytes(ref, 0, n))
}

// textIs reports whether the n bytes at ref are s, without copying.
func (r *rewardState) textIs(ref textRef, n int32, s string) bool {
	return int(n) == len(s) && string(r.text.bytes(ref, 0, n)) == s
}

// rwUndoLog is the reward state's own undo log. The first write of reward
// state in a transaction opens a frame: one entry in the transaction's
// log (the rewardState itself, as an undoer: no allocation) standing for
// every step that transaction's reward writes record here, so that an
// event's writes cost the transaction's log one entry, not one per call.
// Undo runs last first, and reward steps touch only reward state, so
// running a frame's steps when its entry comes up is the same as running
// each where it was written. A store call that fails takes back its own
// steps first (see rwWrite), as do takes back a failed call's entries.
//
// A frame is reused only while its entry is in the transaction's log at
// the place it was put; otherwise (another transaction, or the same
// spare txn after a commit, which drops the log without running it) the
// frames left are stale and the log starts anew. Only one transaction is
// open at a time (the store's lock).
type rwUndoLog struct {
	steps  []rwUndo
	frames []rwFrame
	owner  *txn
}

// rwFrame is an open frame: its first step and the index of its entry in
// the transaction's log.
type rwFrame struct{ start, at int32 }

// rwUndoKind names what an undo step takes back.
type rwUndoKind uint8

const (
	rwUndoProgress   rwUndoKind = iota + 1 // a progress row's change
	rwUndoEventSave                        // a saved event row (the newest)
	rwUndoEventFlows                       // an event row's flows replaced
	rwUndoEventPark                        // a reverse parked
	rwUndoGrantNew                         // a grant row added (the newest)
	rwUndoGrantSet                         // a grant row changed
)

// rwUndo is one step: the state a write changed, as it was.
type rwUndo struct {
	kind    rwUndoKind
	created bool  // progress: the row was created
	row     int32 // the progress, event or grant row
	hash    uint32
	value   int64
	at      time.Time // progress: the old ReachedAt
	board   *rwBoard
	text    textMark
	flows   rwFlowsRef
	grant   rwGrantRow
	key     rwCampKey      // parked reverses' forward event
	parked  []reward.Event // the parked reverses as they were
}

// frame returns the log to record t's reward steps in, opening a frame
// in t when t has none open.
func (s *Store) frame(t *txn) *rwUndoLog {
	r := &s.reward
	u := &r.rwUndoLog
	if n := len(u.frames); n > 0 && u.owner == t {
		if at := int(u.frames[n-1].at); at < len(t.undo) && t.undo[at].kind == undoStep && t.undo[at].step == undoer(r) {
			return u
		}
	}
	if u.owner != t || len(u.frames) > 0 {
		clear(u.steps) // stale: drop what they hold
		u.steps, u.frames, u.owner = u.steps[:0], u.frames[:0], t
	}
	u.frames = append(u.frames, rwFrame{start: int32(len(u.steps)), at: int32(len(t.undo))})
	t.onUndoer(r)
	return u
}

func (u *rwUndoLog) add(step rwUndo) { u.steps = append(u.steps, step) }

// rwWrite runs op, a write of reward state, in do. When op fails, the
// steps it recorded are taken back here: a frame it did not open is not
// taken back by do.
func (s *Store) rwWrite(ctx context.Context, op func(u *rwUndoLog) error) error {
	return s.do(ctx, func(t *txn) error {
		u := s.frame(t)
		mark := len(u.steps)
		err := op(u)
		if err != nil {
			s.reward.undoTo(mark)
		}
		return err
	})
}

// undo implements undoer: it takes back the newest frame.
func (r *rewardState) undo() {
	u := &r.rwUndoLog
	n := len(u.frames) - 1
	r.undoTo(int(u.frames[n].start))
	u.frames = u.frames[:n]
}

// undoTo takes back the steps from mark on, last first.
func (r *rewardState) undoTo(mark int) {
	u := &r.rwUndoLog
	for i := len(u.steps) - 1; i >= mark; i-- {
		r.undoStep(&u.steps[i])
		u.steps[i] = rwUndo{}
	}
	u.steps = u.steps[:mark]
}

func (r *rewardState) undoStep(st *rwUndo) {
	switch st.kind {
	case rwUndoProgress:
		if st.created {
			st.board.drop(st.row)
			return
		}
		row := &st.board.rows[st.row]
		row.value, row.reachedAt = st.value, st.at
		st.board.touch(st.row)
	case rwUndoEventSave:
		r.events.unlink(st.hash, st.row)
		if st.parked != nil {
			r.events.parked[st.key] = st.parked
		}
		r.text.truncate(st.text)
	case rwUndoEventFlows:
		r.events.rows.at(st.row).flows = st.flows
		r.text.truncate(st.text)
	case rwUndoEventPark:
		if st.parked == nil {
			delete(r.events.parked, st.key)
		} else {
			r.events.parked[st.key] = st.parked
		}
	case rwUndoGrantNew:
		r.grants.unlink(st.hash, st.key, st.row)
		r.text.truncate(st.text)
	case rwUndoGrantSet:
		*r.grants.rows.at(st.row) = st.grant
		r.text.truncate(st.text)
	}
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
	slices.SortFunc(ids, func(a, b rwCampKey) int { return strings.Compare(a.id, b.id) })
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

// rwEvents holds the records of saved forward events, one pointer-free
// row each, found through a map keyed by the hash of (tenant, event ID);
// rows whose keys share a hash are chained, newest first, and every hit
// is checked against the row's tenant and ID. Reverses waiting for their
// forward event are few and short-lived: they keep their Go form.
type rwEvents struct {
	heads  map[uint32]int32 // key hash -> newest row with it
	rows   slab[rwEventRow]
	parked map[rwCampKey][]reward.Event // by tenant and forward event ID
}

// rwEventRow is a saved forward event.
type rwEventRow struct {
	id       textRef
	idLen    int32
	tenant   int32 // in rewardState.names
	typ      int32 // in rewardState.names
	sameHash int32 // the next older row whose key has the same hash; -1: none
	at       memTime
	flows    rwFlowsRef
}

// rwFlowsRef locates the encoded flows of an event row in the text arena
// (see appendFlows).
type rwFlowsRef struct {
	text textRef
	len  int32
	n    int32 // flows
}

// find returns the row of event id, or -1, and the key's hash.
func (r *rewardState) findEvent(tenant storage.TenantID, id string) (int32, uint32) {
	h := r.hash(tenant, id)
	head, ok := r.events.heads[h]
	if !ok {
		return -1, h
	}
	for i := head; i >= 0; {
		row := r.events.rows.at(i)
		if r.textIs(row.id, row.idLen, id) && r.str(row.tenant) == string(tenant) {
			return i, h
		}
		i = row.sameHash
	}
	return -1, h
}

// unlink removes row i, the newest, from the index and the rows.
func (e *rwEvents) unlink(h uint32, i int32) {
	if next := e.rows.at(i).sameHash; next >= 0 {
		e.heads[h] = next
	} else {
		delete(e.heads, h)
	}
	*e.rows.at(i) = rwEventRow{}
	e.rows.truncate(int(i))
}

// putFlows encodes flows into the text arena: per flow the campaign and
// the period (names, uvarint), the participant (uvarint length, bytes),
// Delta and Reversed (varint), and the day (uvarint length, bytes).
func (r *rewardState) putFlows(flows []reward.Flow) rwFlowsRef {
	b := r.buf[:0]
	period, pi := "", int32(0) // an event's flows mostly share their period
	for i := range flows {
		f := &flows[i]
		if i == 0 || f.Period != period {
			period, pi = f.Period, r.names.of(f.Period)
		}
		b = binary.AppendUvarint(b, uint64(r.names.of(f.Campaign)))
		b = binary.AppendUvarint(b, uint64(pi))
		b = binary.AppendUvarint(b, uint64(len(f.Participant)))
		b = append(b, f.Participant...)
		b = binary.AppendVarint(b, f.Delta)
		b = binary.AppendVarint(b, f.Reversed)
		b = binary.AppendUvarint(b, uint64(len(f.Day)))
		b = append(b, f.Day...)
	}
	r.buf = b
	ref, dst := r.text.alloc(len(b))
	_ = append(dst, b...)
	return rwFlowsRef{text: ref, len: int32(len(b)), n: int32(len(flows))}
}

// flowsOf decodes what putFlows wrote. An event with no flows reads as an
// empty list, as it was saved (the Engine saves an empty list, not nil).
func (r *rewardState) flowsOf(ref rwFlowsRef) []reward.Flow {
	out := make([]reward.Flow, ref.n)
	if ref.n == 0 {
		return out
	}
	b := r.text.bytes(ref.text, 0, ref.len)
	str := func() string {
		n, k := binary.Uvarint(b)
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s
	}
	num := func() int64 {
		v, k := binary.Varint(b)
		b = b[k:]
		return v
	}
	name := func() string {
		v, k := binary.Uvarint(b)
		b = b[k:]
		return r.str(int32(v))
	}
	for i := range out {
		f := &out[i]
		f.Campaign = name()
		f.Period = name()
		f.Participant = str()
		f.Delta = num()
		f.Reversed = num()
		f.Day = str()
	}
	return out
}

// SaveEvent implements reward.Store.
func (r *RewardStore) SaveEvent(ctx context.Context, tenant storage.TenantID, rec reward.EventRecord) ([]reward.Event, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	var parked []reward.Event
	err := s.rwWrite(ctx, func(u *rwUndoLog) error {
		rw := &s.reward
		ev := &rw.events
		i, h := rw.findEvent(tenant, rec.ID)
		if i >= 0 {
			return fmt.Errorf("%w: event %q", storage.ErrDuplicate, rec.ID)
		}
		step := rwUndo{kind: rwUndoEventSave, text: rw.text.mark()}
		if len(ev.parked) > 0 {
			step.key = rwCampKey{tenant, rec.ID}
			if parked = ev.parked[step.key]; parked != nil {
				step.parked = parked
				delete(ev.parked, step.key)
			}
		}
		row := rwEventRow{tenant: rw.names.of(string(tenant)), typ: rw.names.of(string(rec.Type)),
			at: rw.locs.pack(rec.Time), sameHash: -1}
		row.id, row.idLen = rw.putText(rec.ID)
		row.flows = rw.putFlows(rec.Flows)
		if head, ok := ev.heads[h]; ok {
			row.sameHash = head
		}
		step.row, step.hash = ev.rows.push(row), h
		ev.heads[h] = step.row
		u.add(step)
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
	err := s.rwWrite(ctx, func(u *rwUndoLog) error {
		rw := &s.reward
		if i, _ := rw.findEvent(tenant, forwardID); i >= 0 {
			row := rw.events.rows.at(i)
			out = reward.EventRecord{ID: forwardID, Type: reward.EventType(rw.str(row.typ)), Time: rw.locs.unpack(row.at),
				Flows: rw.flowsOf(row.flows)}
			found = true
			return nil
		}
		k := rwCampKey{tenant, forwardID}
		old := rw.events.parked[k]
		rw.events.parked[k] = append(slices.Clone(old), rev)
		u.add(rwUndo{kind: rwUndoEventPark, key: k, parked: old})
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
	return s.rwWrite(ctx, func(u *rwUndoLog) error {
		rw := &s.reward
		i, _ := rw.findEvent(tenant, id)
		if i < 0 {
			return fmt.Errorf("%w: event %q", storage.ErrNotFound, id)
		}
		row := rw.events.rows.at(i)
		step := rwUndo{kind: rwUndoEventFlows, row: i, flows: row.flows, text: rw.text.mark()}
		row.flows = rw.putFlows(flows)
		u.add(step)
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
	err := s.rwWrite(ctx, func(u *rwUndoLog) error {
		v, reached, err := s.addProgress(u, tenant, key, delta, at)
		out = reward.Progress{ProgressKey: key, Value: v, ReachedAt: reached}
		return err
	})
	if err != nil {
		return reward.Progress{}, err
	}
	return out, nil
}

// AddProgressBatch implements reward.ProgressBatchStore: the changes of
// one event in one call.
func (r *RewardStore) AddProgressBatch(ctx context.Context, tenant storage.TenantID, changes []reward.ProgressChange) ([]int64, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	out := make([]int64, len(changes))
	err := s.rwWrite(ctx, func(u *rwUndoLog) error {
		for i := range changes {
			ch := &changes[i]
			v, _, err := s.addProgress(u, tenant, ch.Key, ch.Delta, ch.At)
			if err != nil {
				return err // rwWrite takes back the changes made so far
			}
			out[i] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// addProgress moves one row, records how to take it back in u, and
// returns the row's new value and ReachedAt.
func (s *Store) addProgress(u *rwUndoLog, tenant storage.TenantID, key reward.ProgressKey, delta int64, at time.Time) (int64, time.Time, error) {
	b := s.board(rwBoardKey{tenant, key.Campaign, key.Period}, true)
	i, existed := b.ids[key.Participant]
	var value int64
	var reached time.Time
	if existed {
		value, reached = b.rows[i].value, b.rows[i].reachedAt
	}
	next := value + delta
	if (delta > 0 && next < value) || (delta < 0 && next > value) {
		return 0, time.Time{}, fmt.Errorf("%w: progress of %q overflows", storage.ErrInvalidArgument, key.Participant)
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
	u.add(rwUndo{kind: rwUndoProgress, board: b, row: i, value: value, at: reached, created: !existed})
	return next, nextAt, nil
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

// rwGrantTable holds grants, one pointer-free row per slot, changed in
// place. Rows are found through a map keyed by the hash of (tenant,
// campaign, period, participant), whose chain (newest first) holds that
// participant's slots and the rare rows of other keys with the same hash;
// and through a list per campaign, for Grants of a whole campaign.
type rwGrantTable struct {
	heads map[uint32]int32    // participant key hash -> newest row with it
	camps map[rwCampKey]int32 // (tenant, campaign) -> its newest row
	rows  slab[rwGrantRow]
	// awards interns the awards of grants: a campaign gives a handful.
	awards   []reward.Award
	awardIdx map[rwAwardKey]int32
}

// rwGrantRow is one grant.
type rwGrantRow struct {
	tenant, campaign, period, slot, status int32 // in rewardState.names
	award                                  int32 // in rwGrantTable.awards
	participant, ref, eventID              textRef
	participantLen, refLen, eventIDLen     int32
	seq                                    int64
	at                                     memTime
	sameHash                               int32 // the next older row whose key has the same hash; -1: none
	prevInCampaign                         int32 // the next older row of the same campaign; -1: none
}

// rwAwardKey identifies an award by value, with its amount as written:
// currency, exponent and coefficient (in text when it overflows int64).
type rwAwardKey struct {
	kind     reward.AwardKind
	template string
	quantity int
	cost     int64
	cur      money.Currency
	exp      int32
	coef     int64
	big      string
}

func awardKeyOf(a reward.Award) rwAwardKey {
	k := rwAwardKey{kind: a.Kind, template: a.Template, quantity: a.Quantity, cost: a.Cost, cur: a.Amount.Currency()}
	if units, ok := a.Amount.Units(); ok { // the decimal units×10^-scale, without building it
		k.exp, k.coef = -k.cur.Scale(), units
		return k
	}
	if a.Amount.Sign() != 0 { // a zero decimal may be uninitialized: its coefficient is 0
		d := a.Amount.Decimal()
		k.exp = d.Exponent()
		if d.NumDigits() <= 18 {
			k.coef = d.CoefficientInt64()
		} else {
			k.big = d.Coefficient().String()
		}
	} else {
		k.exp = a.Amount.Decimal().Exponent()
	}
	return k
}

// award returns the index of a's interned copy.
func (g *rwGrantTable) award(a reward.Award) int32 {
	k := awardKeyOf(a)
	if i, ok := g.awardIdx[k]; ok {
		return i
	}
	if g.awardIdx == nil {
		g.awardIdx = map[rwAwardKey]int32{}
	}
	i := int32(len(g.awards))
	g.awards = append(g.awards, a)
	g.awardIdx[k] = i
	return i
}

// findGrant returns the row of key's grant, or -1, and the hash of its
// participant key.
func (r *rewardState) findGrant(tenant storage.TenantID, key reward.GrantKey) (int32, uint32) {
	h := r.hash(tenant, key.Campaign, key.Period, key.Participant)
	head, ok := r.grants.heads[h]
	if !ok {
		return -1, h
	}
	for i := head; i >= 0; {
		row := r.grants.rows.at(i)
		if r.grantIs(row, tenant, key.Campaign, key.Period, key.Participant) && r.str(row.slot) == key.Slot {
			return i, h
		}
		i = row.sameHash
	}
	return -1, h
}

// grantIs reports whether row is a grant of the participant key given.
func (r *rewardState) grantIs(row *rwGrantRow, tenant storage.TenantID, campaign, period, participant string) bool {
	return r.textIs(row.participant, row.participantLen, participant) && r.str(row.campaign) == campaign &&
		r.str(row.period) == period && r.str(row.tenant) == string(tenant)
}

// grant returns row as a Grant.
func (r *rewardState) grant(row *rwGrantRow) reward.Grant {
	return reward.Grant{
		GrantKey: reward.GrantKey{Campaign: r.str(row.campaign), Period: r.str(row.period),
			Participant: r.textOf(row.participant, row.participantLen), Slot: r.str(row.slot)},
		Award: r.grants.awards[row.award], Status: reward.GrantStatus(r.str(row.status)), Seq: row.seq,
		Ref: r.textOf(row.ref, row.refLen), EventID: r.textOf(row.eventID, row.eventIDLen), At: r.locs.unpack(row.at),
	}
}

// setGrant writes the changeable parts of g into row.
func (r *rewardState) setGrant(row *rwGrantRow, g *reward.Grant) {
	row.award = r.grants.award(g.Award)
	row.status = r.names.of(string(g.Status))
	row.seq = g.Seq
	row.ref, row.refLen = r.putText(g.Ref)
	row.eventID, row.eventIDLen = r.putText(g.EventID)
	row.at = r.locs.pack(g.At)
}

// putGrant stores g: in place when row i holds its slot, as a new row
// when i is -1 (h is the hash of its participant key).
func (s *Store) putGrant(u *rwUndoLog, tenant storage.TenantID, i int32, h uint32, g *reward.Grant) {
	rw := &s.reward
	gt := &rw.grants
	mark := rw.text.mark()
	if i >= 0 {
		row := gt.rows.at(i)
		step := rwUndo{kind: rwUndoGrantSet, row: i, grant: *row, text: mark}
		rw.setGrant(row, g)
		u.add(step)
		return
	}
	row := rwGrantRow{tenant: rw.names.of(string(tenant)), campaign: rw.names.of(g.Campaign), period: rw.names.of(g.Period),
		slot: rw.names.of(g.Slot), sameHash: -1, prevInCampaign: -1}
	row.participant, row.participantLen = rw.putText(g.Participant)
	rw.setGrant(&row, g)
	if head, ok := gt.heads[h]; ok {
		row.sameHash = head
	}
	ck := rwCampKey{tenant, g.Campaign}
	if head, ok := gt.camps[ck]; ok {
		row.prevInCampaign = head
	}
	i = gt.rows.push(row)
	gt.heads[h] = i
	gt.camps[ck] = i
	u.add(rwUndo{kind: rwUndoGrantNew, row: i, hash: h, key: ck, text: mark})
}

// unlink removes row i, the newest, from the indexes and the rows.
func (g *rwGrantTable) unlink(h uint32, ck rwCampKey, i int32) {
	row := g.rows.at(i)
	if row.sameHash >= 0 {
		g.heads[h] = row.sameHash
	} else {
		delete(g.heads, h)
	}
	if row.prevInCampaign >= 0 {
		g.camps[ck] = row.prevInCampaign
	} else {
		delete(g.camps, ck)
	}
	*row = rwGrantRow{}
	g.rows.truncate(int(i))
}

// ClaimGrant implements reward.Store.
func (r *RewardStore) ClaimGrant(ctx context.Context, tenant storage.TenantID, g reward.Grant) (reward.Grant, bool, error) {
	s := r.s
	if err := tenant.Validate(); err != nil {
		return reward.Grant{}, false, err
	}
	var out reward.Grant
	var ok bool
	err := s.rwWrite(ctx, func(u *rwUndoLog) error {
		rw := &s.reward
		i, h := rw.findGrant(tenant, g.GrantKey)
		var seq int64
		if i >= 0 {
			row := rw.grants.rows.at(i)
			if rw.str(row.status) == string(reward.GrantAwarded) {
				out = rw.grant(row)
				return nil
			}
			seq = row.seq
		}
		g.Status, g.Seq, g.Ref = reward.GrantAwarded, seq+1, ""
		s.putGrant(u, tenant, i, h, &g)
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
	err := s.rwWrite(ctx, func(u *rwUndoLog) error {
		rw := &s.reward
		i, h := rw.findGrant(tenant, key)
		if i < 0 {
			return fmt.Errorf("%w: grant %s/%s/%s/%s", storage.ErrNotFound, key.Campaign, key.Period, key.Participant, key.Slot)
		}
		g := rw.grant(rw.grants.rows.at(i))
		if g.Status != reward.GrantAwarded {
			out = g
			return nil
		}
		g.Status, g.At = reward.GrantClawedBack, at
		s.putGrant(u, tenant, i, h, &g)
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
	return s.rwWrite(ctx, func(u *rwUndoLog) error {
		rw := &s.reward
		i, _ := rw.findGrant(tenant, key)
		if i < 0 {
			return fmt.Errorf("%w: grant %s/%s/%s/%s", storage.ErrNotFound, key.Campaign, key.Period, key.Participant, key.Slot)
		}
		row := rw.grants.rows.at(i)
		step := rwUndo{kind: rwUndoGrantSet, row: i, grant: *row, text: rw.text.mark()}
		row.ref, row.refLen = rw.putText(ref)
		u.add(step)
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
		rw := &s.reward
		gt := &rw.grants
		if period != "" && participant != "" {
			// One participant's slots: its hash chain.
			head, ok := gt.heads[rw.hash(tenant, campaign, period, participant)]
			for i := head; ok && i >= 0; {
				row := gt.rows.at(i)
				if rw.grantIs(row, tenant, campaign, period, participant) {
					out = append(out, rw.grant(row))
				}
				i = row.sameHash
			}
		} else {
			head, ok := gt.camps[rwCampKey{tenant, campaign}]
			for i := head; ok && i >= 0; {
				row := gt.rows.at(i)
				if (period == "" || rw.str(row.period) == period) &&
					(participant == "" || rw.textIs(row.participant, row.participantLen, participant)) {
					out = append(out, rw.grant(row))
				}
				i = row.prevInCampaign
			}
		}
		slices.SortFunc(out, func(a, b reward.Grant) int { return reward.CompareGrantKey(a.GrantKey, b.GrantKey) })
		return nil
	})
	return out, err
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
	return strings.Compare(b.rows[x.row].participant, b.rows[y.row].participant)
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
		slices.SortFunc(out, func(a, b reward.MemberRecord) int { return strings.Compare(a.ID, b.ID) })
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
