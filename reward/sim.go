package reward

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// simStore is a private, throwaway Store for dry runs: plain maps, one
// tenant, no rollback (a dry run's transaction never fails halfway in a
// way that matters, since everything is discarded).
type simStore struct {
	mu        sync.Mutex
	idem      map[string]storage.IdempotencyRecord
	counters  map[string]int64
	campaigns map[string]Campaign
	events    map[string]EventRecord
	parked    map[string][]Event
	progress  map[ProgressKey]Progress
	grants    map[GrantKey]Grant
}

func newSimStore() *simStore {
	return &simStore{
		idem: map[string]storage.IdempotencyRecord{}, counters: map[string]int64{},
		campaigns: map[string]Campaign{}, events: map[string]EventRecord{}, parked: map[string][]Event{},
		progress: map[ProgressKey]Progress{}, grants: map[GrantKey]Grant{},
	}
}

func (s *simStore) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return fn(ctx)
}

func (s *simStore) ClaimIdempotencyKey(_ context.Context, rec storage.IdempotencyRecord) (*storage.IdempotencyRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := rec.Operation + "\x00" + rec.Key
	if old, ok := s.idem[k]; ok {
		return &old, nil
	}
	s.idem[k] = rec
	return nil, nil
}

func (s *simStore) CompleteIdempotencyKey(_ context.Context, _ storage.TenantID, op, key string, result []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := op + "\x00" + key
	r := s.idem[k]
	r.Result = slices.Clone(result)
	s.idem[k] = r
	return nil
}

func (s *simStore) AddCounter(_ context.Context, _ storage.TenantID, key string, delta int64, b storage.Bounds) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.counters[key] + delta
	if !b.Within(next) {
		return s.counters[key], false, nil
	}
	s.counters[key] = next
	return next, true, nil
}

func (s *simStore) Counter(_ context.Context, _ storage.TenantID, key string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters[key], nil
}

func (s *simStore) PutCampaign(_ context.Context, _ storage.TenantID, c Campaign) (Campaign, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Version++
	s.campaigns[c.ID] = c.Clone()
	return c, nil
}

func (s *simStore) Campaign(_ context.Context, _ storage.TenantID, id string) (Campaign, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.campaigns[id]
	if !ok {
		return Campaign{}, fmt.Errorf("%w: %q", ErrCampaignNotFound, id)
	}
	return c, nil
}

func (s *simStore) ActiveCampaigns(_ context.Context, _ storage.TenantID, typ EventType) ([]Campaign, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Campaign
	for _, c := range s.campaigns {
		if c.Status == StatusActive && c.listens(typ) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *simStore) SetCampaignStatus(_ context.Context, _ storage.TenantID, id string, from, to Status) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.campaigns[id]
	if !ok {
		return false, fmt.Errorf("%w: %q", ErrCampaignNotFound, id)
	}
	if c.Status != from {
		return false, nil
	}
	c.Status = to
	s.campaigns[id] = c
	return true, nil
}

func (s *simStore) SaveEvent(_ context.Context, _ storage.TenantID, rec EventRecord) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.events[rec.ID]; ok {
		return nil, fmt.Errorf("%w: event %q", storage.ErrDuplicate, rec.ID)
	}
	rec.Flows = slices.Clone(rec.Flows)
	s.events[rec.ID] = rec
	p := s.parked[rec.ID]
	delete(s.parked, rec.ID)
	return p, nil
}

func (s *simStore) LinkReverse(_ context.Context, _ storage.TenantID, fwd string, rev Event) (EventRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.events[fwd]; ok {
		rec.Flows = slices.Clone(rec.Flows)
		return rec, true, nil
	}
	s.parked[fwd] = append(s.parked[fwd], rev)
	return EventRecord{}, false, nil
}

func (s *simStore) UpdateEventFlows(_ context.Context, _ storage.TenantID, id string, flows []Flow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.events[id]
	if !ok {
		return fmt.Errorf("%w: event %q", storage.ErrNotFound, id)
	}
	rec.Flows = slices.Clone(flows)
	s.events[id] = rec
	return nil
}

func (s *simStore) AddProgress(_ context.Context, _ storage.TenantID, k ProgressKey, delta int64, at time.Time) (Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.progress[k]
	p.ProgressKey = k
	p.Value += delta
	if at.After(p.ReachedAt) {
		p.ReachedAt = at
	}
	s.progress[k] = p
	return p, nil
}

func (s *simStore) Progress(_ context.Context, _ storage.TenantID, k ProgressKey) (Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.progress[k]
	if !ok {
		return Progress{}, fmt.Errorf("%w: %s/%s/%s", ErrNoProgress, k.Campaign, k.Period, k.Participant)
	}
	return p, nil
}

func (s *simStore) rows(campaign, period string) []Progress {
	var out []Progress
	for _, p := range s.progress {
		if p.Campaign == campaign && p.Period == period {
			out = append(out, p)
		}
	}
	return out
}

func (s *simStore) ListProgress(_ context.Context, _ storage.TenantID, campaign, period, after string, limit int) ([]Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := s.rows(campaign, period)
	sort.Slice(rows, func(i, j int) bool { return rows[i].Participant < rows[j].Participant })
	var out []Progress
	for _, r := range rows {
		if r.Participant > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *simStore) Leaderboard(_ context.Context, _ storage.TenantID, campaign, period string, limit int) ([]Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := s.rows(campaign, period)
	slices.SortFunc(rows, CompareStanding)
	return rows[:min(limit, len(rows))], nil
}

func (s *simStore) Rank(_ context.Context, _ storage.TenantID, k ProgressKey) (int, Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.progress[k]
	if !ok {
		return 0, Progress{}, fmt.Errorf("%w: %s", ErrNoProgress, k.Participant)
	}
	rank := 1
	for _, r := range s.rows(k.Campaign, k.Period) {
		if CompareStanding(r, p) < 0 {
			rank++
		}
	}
	return rank, p, nil
}

func (s *simStore) ClaimGrant(_ context.Context, _ storage.TenantID, g Grant) (Grant, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.grants[g.GrantKey]
	if ok && old.Status == GrantAwarded {
		return old, false, nil
	}
	g.Status, g.Seq, g.Ref = GrantAwarded, old.Seq+1, ""
	s.grants[g.GrantKey] = g
	return g, true, nil
}

func (s *simStore) RevokeGrant(_ context.Context, _ storage.TenantID, k GrantKey, at time.Time) (Grant, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[k]
	if !ok {
		return Grant{}, false, fmt.Errorf("%w: grant %v", storage.ErrNotFound, k)
	}
	if g.Status != GrantAwarded {
		return g, false, nil
	}
	g.Status, g.At = GrantClawedBack, at
	s.grants[k] = g
	return g, true, nil
}

func (s *simStore) SetGrantRef(_ context.Context, _ storage.TenantID, k GrantKey, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[k]
	if !ok {
		return fmt.Errorf("%w: grant %v", storage.ErrNotFound, k)
	}
	g.Ref = ref
	s.grants[k] = g
	return nil
}

func (s *simStore) Grants(_ context.Context, _ storage.TenantID, campaign, period, participant string) ([]Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Grant
	for k, g := range s.grants {
		if k.Campaign == campaign && (period == "" || k.Period == period) && (participant == "" || k.Participant == participant) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b Grant) int { return CompareGrantKey(a.GrantKey, b.GrantKey) })
	return out, nil
}

// CompareStanding orders progress rows by rank: Value descending,
// ReachedAt ascending, Participant ascending. Adapters use it to keep
// their leaderboards.
func CompareStanding(a, b Progress) int {
	switch {
	case a.Value > b.Value:
		return -1
	case a.Value < b.Value:
		return 1
	}
	if c := a.ReachedAt.Compare(b.ReachedAt); c != 0 {
		return c
	}
	return cmpString(a.Participant, b.Participant)
}

// CompareGrantKey orders grant keys by campaign, period, participant and
// slot.
func CompareGrantKey(a, b GrantKey) int {
	if c := cmpString(a.Campaign, b.Campaign); c != 0 {
		return c
	}
	if c := cmpString(a.Period, b.Period); c != 0 {
		return c
	}
	if c := cmpString(a.Participant, b.Participant); c != 0 {
		return c
	}
	return cmpString(a.Slot, b.Slot)
}
