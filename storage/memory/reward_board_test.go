package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/storage"
)

// The rank index follows the rows lazily (synced at reads, re-sorted when
// many rows moved) and progress changes are undone when their transaction
// fails: after any mix of the two, Leaderboard and Rank must equal a sort
// of the committed rows.
func TestBoardIndexMatchesSortedRows(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		s := MustNew()
		rs := s.Rewards().(*RewardStore)
		const tenant storage.TenantID = "t"
		t0 := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
		model := map[string]reward.Progress{}
		errUndo := errors.New("undo")
		people := rapid.IntRange(1, 300).Draw(rt, "people")
		change := rapid.Custom(func(t *rapid.T) reward.ProgressChange {
			return reward.ProgressChange{
				Key:   reward.ProgressKey{Campaign: "c", Period: "all", Participant: fmt.Sprintf("p%03d", rapid.IntRange(0, people-1).Draw(t, "who"))},
				Delta: rapid.Int64Range(-3, 5).Draw(t, "delta"),
				At:    t0.Add(time.Duration(rapid.IntRange(0, 50).Draw(t, "sec")) * time.Second),
			}
		})
		apply := func(m map[string]reward.Progress, ch reward.ProgressChange) {
			p := m[ch.Key.Participant]
			p.ProgressKey = ch.Key
			p.Value += ch.Delta
			if ch.At.After(p.ReachedAt) {
				p.ReachedAt = ch.At
			}
			m[ch.Key.Participant] = p
		}
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0, 1: // a transaction of changes, committed or not
				batch := rapid.SliceOfN(change, 1, 40).Draw(rt, "batch")
				fail := rapid.Bool().Draw(rt, "fail")
				readInside := rapid.Bool().Draw(rt, "readInside")
				err := s.InTx(ctx, func(ctx context.Context) error {
					if _, err := rs.AddProgressBatch(ctx, tenant, batch); err != nil {
						return err
					}
					if readInside {
						if _, err := rs.Leaderboard(ctx, tenant, "c", "all", 10); err != nil {
							return err
						}
					}
					if fail {
						return errUndo
					}
					return nil
				})
				if fail {
					require.ErrorIs(rt, err, errUndo)
					continue
				}
				require.NoError(rt, err)
				for _, ch := range batch {
					apply(model, ch)
				}
			case 2:
				ch := change.Draw(rt, "one")
				_, err := rs.AddProgress(ctx, tenant, ch.Key, ch.Delta, ch.At)
				require.NoError(rt, err)
				apply(model, ch)
			case 3:
				want := make([]reward.Progress, 0, len(model))
				for _, p := range model {
					want = append(want, p)
				}
				slices.SortFunc(want, reward.CompareStanding)
				got, err := rs.Leaderboard(ctx, tenant, "c", "all", len(want)+1)
				require.NoError(rt, err)
				if len(want) == 0 {
					require.Empty(rt, got)
					continue
				}
				require.Equal(rt, want, got)
				k := rapid.IntRange(0, len(want)-1).Draw(rt, "rankOf")
				rank, p, err := rs.Rank(ctx, tenant, want[k].ProgressKey)
				require.NoError(rt, err)
				require.Equal(rt, k+1, rank)
				require.Equal(rt, want[k], p)
			}
		}
	})
}
