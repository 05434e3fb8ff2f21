package risk_test

import (
	"context"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
)

// TestVelocityMatchesModel drives a velocity policy with random subjects
// and random clock steps and compares every decision with a model: a map
// from (subject, window start) to admitted actions. No window ever admits
// more than the limit, and every action below it is admitted.
func TestVelocityMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		limit := rapid.Int64Range(1, 5).Draw(rt, "limit")
		window := time.Duration(rapid.IntRange(1, 120).Draw(rt, "window_s")) * time.Second
		clock := storage.NewFakeClock(t0.Add(time.Duration(rapid.IntRange(0, 3600_000).Draw(rt, "offset_ms")) * time.Millisecond))
		e, _ := newEngine(rt, clock, risk.Velocity{Name: "p", By: risk.IP, Limit: limit, Window: window, Outcome: risk.Reject})

		type cell struct {
			ip    string
			start int64
		}
		admitted := map[cell]int64{}
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for i := range steps {
			clock.Advance(time.Duration(rapid.IntRange(0, 40_000).Draw(rt, "step_ms")) * time.Millisecond)
			ip := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(rt, "ip")
			assess := rapid.Bool().Draw(rt, "assess")
			a := risk.Action{Kind: "coupon.claim", IP: ip}
			var d risk.Decision
			var err error
			if assess {
				d, err = e.Assess(context.Background(), tenant, a)
			} else {
				d, err = e.Check(context.Background(), tenant, a)
			}
			if err != nil {
				rt.Fatalf("step %d: %v", i, err)
			}
			ms := clock.Now().UnixMilli()
			c := cell{ip, ms - ms%window.Milliseconds()}
			wantAllow := admitted[c] < limit
			if d.Allowed() != wantAllow {
				rt.Fatalf("step %d (assess %v): %s at %s: allowed %v, model %v (%d of %d)", i, assess, ip, clock.Now(), d.Allowed(), wantAllow, admitted[c], limit)
			}
			if wantAllow && !assess {
				admitted[c]++
			}
			if admitted[c] > limit {
				rt.Fatalf("window admitted %d > %d", admitted[c], limit)
			}
		}
	})
}
