package reward

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/rewardkit/rewardkit/storage"
)

// AwardRequest is one award handed to an Awarder.
type AwardRequest struct {
	// Key is unique per award: the same key means the same award (a
	// transaction re-run after a serialization failure passes it again).
	Key         string `json:"key"`
	Campaign    string `json:"campaign"`
	Participant string `json:"participant"`
	Slot        string `json:"slot"`
	Award       Award  `json:"award"`
}

// Awarder gives and takes back awards: points or cash through the
// ledger, coupons through coupon issuance. The Engine calls it inside the
// transaction that records the grant, with that transaction's context, so
// an Awarder backed by the same store commits or rolls back with it. An
// Awarder that reaches outside the transaction must be idempotent by
// AwardRequest.Key, since the transaction may be re-run.
type Awarder interface {
	// Grant gives the award and returns a reference to it (a ledger
	// transaction ID, coupon IDs).
	Grant(ctx context.Context, tenant storage.TenantID, req AwardRequest) (ref string, err error)
	// Revoke takes back the award Grant gave under req.Key, with the
	// reference Grant returned.
	Revoke(ctx context.Context, tenant storage.TenantID, req AwardRequest, ref string) error
}

// Recorder is an Awarder that only remembers what it was asked, keyed by
// AwardRequest.Key: for tests, dry runs and hosts that settle awards from
// the Grants the store keeps. It is safe for concurrent use; the zero
// value is ready.
type Recorder struct {
	mu      sync.Mutex
	granted map[string]recorded
	revoked map[string]bool
	// The awards of the requests: a campaign gives a handful of distinct
	// ones, so each request keeps an index rather than a copy.
	awards   []Award
	awardIdx map[Award]int32
}

// recorded is a granted request without its key (the map's).
type recorded struct {
	campaign, participant, slot string
	award                       int32
}

// Grant records req and returns its key as the reference.
func (r *Recorder) Grant(_ context.Context, _ storage.TenantID, req AwardRequest) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.granted == nil {
		r.granted = map[string]recorded{}
		r.revoked = map[string]bool{}
		r.awardIdx = map[Award]int32{}
	}
	// Awards compare by their fields; equal amounts held in different
	// decimals just take two entries.
	i, ok := r.awardIdx[req.Award]
	if !ok {
		i = int32(len(r.awards))
		r.awards = append(r.awards, req.Award)
		r.awardIdx[req.Award] = i
	}
	r.granted[req.Key] = recorded{campaign: req.Campaign, participant: req.Participant, slot: req.Slot, award: i}
	return req.Key, nil
}

// Revoke records that the award under req.Key was taken back. It returns
// an error wrapping ErrInvalidArgument when no such award was granted.
func (r *Recorder) Revoke(_ context.Context, _ storage.TenantID, req AwardRequest, ref string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.granted[req.Key]; !ok || ref != req.Key {
		return fmt.Errorf("%w: revoke of unknown award %q", ErrInvalidArgument, req.Key)
	}
	r.revoked[req.Key] = true
	return nil
}

// Held returns the awards granted and not revoked, ordered by key.
func (r *Recorder) Held() []AwardRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []AwardRequest
	for k, v := range r.granted {
		if !r.revoked[k] {
			out = append(out, AwardRequest{Key: k, Campaign: v.campaign, Participant: v.participant, Slot: v.slot, Award: r.awards[v.award]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Counts returns how many awards were granted and how many revoked.
func (r *Recorder) Counts() (granted, revoked int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.granted), len(r.revoked)
}
