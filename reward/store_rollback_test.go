package reward_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// rbModel is what the store should hold: committed writes only.
type rbModel struct {
	events   map[string][]reward.Flow // saved forward events
	parked   map[string][]string      // reverse IDs parked by forward ID
	grants   map[reward.GrantKey]reward.Grant
	progress map[reward.ProgressKey]int64
}

func (m rbModel) clone() rbModel {
	c := rbModel{events: map[string][]reward.Flow{}, parked: map[string][]string{}, grants: map[reward.GrantKey]reward.Grant{},
		progress: map[reward.ProgressKey]int64{}}
	for k, v := range m.events {
		c.events[k] = slices.Clone(v)
	}
	for k, v := range m.parked {
		c.parked[k] = slices.Clone(v)
	}
	for k, v := range m.grants {
		c.grants[k] = v
	}
	for k, v := range m.progress {
		c.progress[k] = v
	}
	return c
}

// The memory store keeps events and grants in rows it changes in place
// and takes back through its own undo log: after any mix of writes in
// transactions that commit, roll back, or swallow a failed call (which
// takes back only that call's writes), among writes of other records,
// it must hold exactly the committed writes.
func TestMemoryRewardStoreRollsBackExactly(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		s := memory.MustNew()
		rs := s.Rewards()
		model := rbModel{}.clone()
		t0 := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
		boom := errors.New("boom")
		ids := rapid.SampledFrom([]string{"e1", "e2", "e3", "e4"})
		people := rapid.SampledFrom([]string{"u1", "u2", "üñ"})
		camps := rapid.SampledFrom([]string{"c1", "c2"})
		flowsGen := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) reward.Flow {
			return reward.Flow{Campaign: camps.Draw(t, "camp"), Participant: people.Draw(t, "who"), Period: "all",
				Delta: rapid.Int64Range(0, 1<<40).Draw(t, "delta"), Reversed: rapid.Int64Range(0, 3).Draw(t, "rev"),
				Day: rapid.SampledFrom([]string{"", "2025-08-01"}).Draw(t, "day")}
		}), 0, 3)
		gkey := rapid.Custom(func(t *rapid.T) reward.GrantKey {
			return reward.GrantKey{Campaign: camps.Draw(t, "camp"), Period: "all", Participant: people.Draw(t, "who"),
				Slot: rapid.SampledFrom([]string{"tier/0", "tier/1"}).Draw(t, "slot")}
		})
		outboxSeq := 0

		for txn := range rapid.IntRange(1, 12).Draw(rt, "txns") {
			next := model.clone()
			commit := rapid.Bool().Draw(rt, "commit")
			err := s.InTx(ctx, func(ctx context.Context) error {
				for range rapid.IntRange(1, 8).Draw(rt, "ops") {
					switch rapid.IntRange(0, 7).Draw(rt, "op") {
					case 0: // save a forward event
						id := ids.Draw(rt, "id")
						flows := flowsGen.Draw(rt, "flows")
						parked, err := rs.SaveEvent(ctx, tenant, reward.EventRecord{ID: id, Type: reward.OrderInstalled, Time: t0, Flows: flows})
						if _, saved := next.events[id]; saved {
							require.ErrorIs(rt, err, storage.ErrDuplicate)
							continue
						}
						require.NoError(rt, err)
						var got []string
						for _, p := range parked {
							got = append(got, p.ID)
						}
						require.Equal(rt, next.parked[id], got, "parked reverses of %s", id)
						delete(next.parked, id)
						next.events[id] = slices.Clone(flows)
					case 1: // a reverse: found, or parked
						id := ids.Draw(rt, "id")
						rev := reward.Event{ID: fmt.Sprintf("r%d-%d", txn, len(next.parked[id])), Type: reward.AfterSale, Time: t0, OriginalID: id}
						rec, found, err := rs.LinkReverse(ctx, tenant, id, rev)
						require.NoError(rt, err)
						want, saved := next.events[id]
						require.Equal(rt, saved, found)
						if saved {
							require.Equal(rt, len(want), len(rec.Flows))
							if len(want) > 0 {
								require.Equal(rt, want, rec.Flows)
							}
						} else {
							next.parked[id] = append(next.parked[id], rev.ID)
						}
					case 2: // update flows
						id := ids.Draw(rt, "id")
						flows := flowsGen.Draw(rt, "flows")
						err := rs.UpdateEventFlows(ctx, tenant, id, flows)
						if _, saved := next.events[id]; !saved {
							require.ErrorIs(rt, err, storage.ErrNotFound)
							continue
						}
						require.NoError(rt, err)
						next.events[id] = slices.Clone(flows)
					case 3: // progress, in a batch that may overflow half-way
						var changes []reward.ProgressChange
						overflow := false
						sums := map[reward.ProgressKey]int64{}
						for range rapid.IntRange(1, 3).Draw(rt, "n") {
							k := reward.ProgressKey{Campaign: camps.Draw(rt, "camp"), Period: "all", Participant: people.Draw(rt, "who")}
							d := rapid.Int64Range(-2, 5).Draw(rt, "d")
							if rapid.IntRange(0, 9).Draw(rt, "huge") == 0 {
								d = math.MaxInt64
							}
							if _, ok := sums[k]; !ok {
								sums[k] = next.progress[k]
							}
							if (d > 0 && sums[k]+d < sums[k]) || (d < 0 && sums[k]+d > sums[k]) {
								overflow = true
							}
							sums[k] += d
							changes = append(changes, reward.ProgressChange{Key: k, Delta: d, At: t0})
						}
						_, err := rs.(reward.ProgressBatchStore).AddProgressBatch(ctx, tenant, changes)
						if overflow {
							require.ErrorIs(rt, err, storage.ErrInvalidArgument) // swallowed: the batch left nothing
							continue
						}
						require.NoError(rt, err)
						for k, v := range sums {
							next.progress[k] = v
						}
					case 4: // claim a grant
						k := gkey.Draw(rt, "key")
						g, ok, err := rs.ClaimGrant(ctx, tenant, reward.Grant{GrantKey: k, Award: points(10), EventID: "e", At: t0})
						require.NoError(rt, err)
						old, had := next.grants[k]
						require.Equal(rt, !had || old.Status != reward.GrantAwarded, ok)
						if ok {
							next.grants[k] = g
						}
					case 5: // revoke a grant
						k := gkey.Draw(rt, "key")
						g, ok, err := rs.RevokeGrant(ctx, tenant, k, t0.Add(time.Hour))
						old, had := next.grants[k]
						if !had {
							require.ErrorIs(rt, err, storage.ErrNotFound)
							continue
						}
						require.NoError(rt, err)
						require.Equal(rt, old.Status == reward.GrantAwarded, ok)
						next.grants[k] = g
					case 6: // set a grant's reference
						k := gkey.Draw(rt, "key")
						ref := rapid.StringMatching(`[a-z]{0,6}`).Draw(rt, "ref")
						err := rs.SetGrantRef(ctx, tenant, k, ref)
						g, had := next.grants[k]
						if !had {
							require.ErrorIs(rt, err, storage.ErrNotFound)
							continue
						}
						require.NoError(rt, err)
						g.Ref = ref
						next.grants[k] = g
					case 7: // other records in the same transaction, one failing
						outboxSeq++
						msg := storage.Message{EventID: fmt.Sprintf("m%d", outboxSeq), Tenant: tenant, Topic: "t", AggregateType: "a", AggregateID: "x", Payload: []byte(`{}`), CreatedAt: t0}
						require.NoError(rt, s.AppendOutbox(ctx, msg))
						require.ErrorIs(rt, s.AppendOutbox(ctx, msg), storage.ErrDuplicate)
						_, _, err := s.AddCounter(ctx, tenant, "k", 1, storage.Bounds{})
						require.NoError(rt, err)
					}
				}
				if commit {
					return nil
				}
				return boom
			})
			if commit {
				require.NoError(rt, err)
				model = next
			} else {
				require.ErrorIs(rt, err, boom)
			}
			checkRollbackModel(rt, rs, model)
		}
	})
}

func checkRollbackModel(t *rapid.T, rs reward.Store, m rbModel) {
	ctx := context.Background()
	for id, want := range m.events {
		// LinkReverse of a saved event only reads.
		rec, found, err := rs.LinkReverse(ctx, tenant, id, reward.Event{ID: "probe", Type: reward.AfterSale, OriginalID: id})
		require.NoError(t, err)
		require.True(t, found, "event %s", id)
		require.Equal(t, len(want), len(rec.Flows), "event %s", id)
		if len(want) > 0 {
			require.Equal(t, want, rec.Flows, "event %s", id)
		}
	}
	for k, want := range m.progress {
		p, err := rs.Progress(ctx, tenant, k)
		require.NoError(t, err)
		require.Equal(t, want, p.Value, "progress %v", k)
	}
	for _, c := range []string{"c1", "c2"} {
		got, err := rs.Grants(ctx, tenant, c, "", "")
		require.NoError(t, err)
		var want []reward.Grant
		for k, g := range m.grants {
			if k.Campaign == c {
				want = append(want, g)
			}
		}
		slices.SortFunc(want, func(a, b reward.Grant) int { return reward.CompareGrantKey(a.GrantKey, b.GrantKey) })
		require.Equal(t, len(want), len(got), "grants of %s", c)
		for i := range want {
			w, g := want[i], got[i]
			require.Equal(t, w.GrantKey, g.GrantKey)
			require.Equal(t, w.Status, g.Status)
			require.Equal(t, w.Seq, g.Seq)
			require.Equal(t, w.Ref, g.Ref)
			require.Equal(t, w.EventID, g.EventID)
			require.True(t, w.At.Equal(g.At))
			require.True(t, w.Award.Amount.Equal(g.Award.Amount))
		}
		for _, g := range got {
			one, err := rs.Grants(ctx, tenant, c, g.Period, g.Participant)
			require.NoError(t, err)
			require.Contains(t, one, g, "a participant's grants hold its slots")
		}
	}
}
