package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
)

// riskBase is a fixed, millisecond-aligned time for the risk cases.
var riskBase = time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)

func bucketAt(key string, start time.Time, window time.Duration) risk.Bucket {
	return risk.Bucket{Key: key, Start: start, End: start.Add(window)}
}

func velocityCount(t *testing.T, s risk.Store, tenant storage.TenantID, b risk.Bucket) int64 {
	t.Helper()
	n, err := s.VelocityCount(context.Background(), tenant, b)
	require.NoError(t, err)
	return n
}

func assertEntry(t *testing.T, want, got risk.Entry) {
	t.Helper()
	assert.Equal(t, want.List, got.List)
	assert.Equal(t, want.Value, got.Value)
	assert.Equal(t, want.Reason, got.Reason)
	assert.True(t, want.CreatedAt.Equal(got.CreatedAt), "created %s, want %s", got.CreatedAt, want.CreatedAt)
	assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "expires %s, want %s", got.ExpiresAt, want.ExpiresAt)
}

// RunRisk checks the store behind rules/risk: velocity buckets that never
// admit more than their limit (also under concurrent writers on two
// instances), deny lists with expiry, pruning, rollback and tenant
// isolation, and the engine end to end.
func RunRisk(t *testing.T, h Harness) {
	ctx := context.Background()
	const window = 5 * time.Minute

	t.Run("velocity admits exactly the limit per bucket", func(t *testing.T) {
		s := h.Open(t).Risk()
		b := bucketAt("claims/ip/203.0.113.7", riskBase, window)
		var counts []int64
		var allowed []bool
		for range 5 {
			n, ok, err := s.HitVelocity(ctx, tenantA, b, 3)
			require.NoError(t, err)
			counts = append(counts, n)
			allowed = append(allowed, ok)
		}
		assert.Equal(t, []int64{1, 2, 3, 3, 3}, counts)
		assert.Equal(t, []bool{true, true, true, false, false}, allowed)
		assert.Equal(t, int64(3), velocityCount(t, s, tenantA, b))

		next := bucketAt(b.Key, b.End, window)
		assert.Equal(t, int64(0), velocityCount(t, s, tenantA, next), "the next window starts empty")
		n, ok, err := s.HitVelocity(ctx, tenantA, next, 3)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, int64(1), n)
		other := bucketAt("claims/ip/198.51.100.1", riskBase, window)
		assert.Equal(t, int64(0), velocityCount(t, s, tenantA, other), "keys count apart")

		n, ok, err = s.HitVelocity(ctx, tenantA, b, 4)
		require.NoError(t, err)
		assert.True(t, ok, "a raised limit admits again")
		assert.Equal(t, int64(4), n)
	})

	t.Run("velocity tenant isolation", func(t *testing.T) {
		s := h.Open(t).Risk()
		b := bucketAt("k", riskBase, window)
		_, ok, err := s.HitVelocity(ctx, tenantA, b, 1)
		require.NoError(t, err)
		require.True(t, ok)
		_, ok, err = s.HitVelocity(ctx, tenantA, b, 1)
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, int64(0), velocityCount(t, s, tenantB, b))
		n, ok, err := s.HitVelocity(ctx, tenantB, b, 1)
		require.NoError(t, err)
		assert.True(t, ok, "another tenant's full bucket does not limit this one")
		assert.Equal(t, int64(1), n)
	})

	t.Run("velocity bad input changes nothing", func(t *testing.T) {
		s := h.Open(t).Risk()
		b := bucketAt("k", riskBase, window)
		cases := []struct {
			name   string
			tenant storage.TenantID
			b      risk.Bucket
			limit  int64
			want   error
		}{
			{"zero limit", tenantA, b, 0, risk.ErrInvalidBucket},
			{"negative limit", tenantA, b, -1, risk.ErrInvalidBucket},
			{"empty key", tenantA, bucketAt("", riskBase, window), 1, risk.ErrInvalidBucket},
			{"long key", tenantA, bucketAt(string(make([]byte, risk.MaxBucketKeyLen+1)), riskBase, window), 1, risk.ErrInvalidBucket},
			{"end before start", tenantA, risk.Bucket{Key: "k", Start: riskBase, End: riskBase}, 1, risk.ErrInvalidBucket},
			{"empty tenant", "", b, 1, storage.ErrInvalidTenant},
			{"bad tenant", "bad tenant!", b, 1, storage.ErrInvalidTenant},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, ok, err := s.HitVelocity(ctx, c.tenant, c.b, c.limit)
				require.ErrorIs(t, err, c.want)
				if errors.Is(c.want, risk.ErrInvalidBucket) {
					require.ErrorIs(t, err, storage.ErrInvalidArgument)
				}
				assert.False(t, ok)
			})
		}
		_, err := s.VelocityCount(ctx, "", b)
		require.ErrorIs(t, err, storage.ErrInvalidTenant)
		assert.Equal(t, int64(0), velocityCount(t, s, tenantA, b))
	})

	t.Run("velocity rollback", func(t *testing.T) {
		st := h.Open(t)
		s := st.Risk()
		b := bucketAt("k", riskBase, window)
		boom := errors.New("boom")
		err := st.InTx(ctx, func(ctx context.Context) error {
			for range 2 {
				if _, _, err := s.HitVelocity(ctx, tenantA, b, 5); err != nil {
					return err
				}
			}
			n, err := s.VelocityCount(ctx, tenantA, b)
			if err != nil {
				return err
			}
			assert.Equal(t, int64(2), n, "a transaction sees its own hits")
			return boom
		})
		require.ErrorIs(t, err, boom)
		assert.Equal(t, int64(0), velocityCount(t, s, tenantA, b), "hits roll back with their transaction")
	})

	t.Run("velocity concurrent writers on two instances admit exactly the limit", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		n := h.writers()
		const tries, limit = 10, 50
		full := bucketAt("hot", riskBase, window)
		open := bucketAt("open", riskBase, window)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for g := range n {
			s := s1.Risk()
			if g%2 == 1 {
				s = s2.Risk()
			}
			wg.Go(func() {
				for range tries {
					c, ok, err := s.HitVelocity(ctx, tenantA, full, limit)
					if !assert.NoError(t, err) {
						return
					}
					assert.LessOrEqual(t, c, int64(limit))
					if ok {
						admitted.Add(1)
					}
					_, ok, err = s.HitVelocity(ctx, tenantA, open, 1<<40)
					if !assert.NoError(t, err) {
						return
					}
					assert.True(t, ok)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(min(limit, n*tries)), admitted.Load())
		assert.Equal(t, int64(min(limit, n*tries)), velocityCount(t, s2.Risk(), tenantA, full))
		assert.Equal(t, int64(n*tries), velocityCount(t, s1.Risk(), tenantA, open), "no hit is lost")
	})

	t.Run("deny lists", func(t *testing.T) {
		s := h.Open(t).Risk()
		phone := risk.Entry{List: risk.Phone, Value: "+8613800000000", Reason: "chargebacks", CreatedAt: riskBase}
		device := risk.Entry{List: risk.Device, Value: "dev-1", CreatedAt: riskBase, ExpiresAt: riskBase.Add(time.Hour)}
		require.NoError(t, s.PutDenyEntry(ctx, tenantA, phone))
		require.NoError(t, s.PutDenyEntry(ctx, tenantA, device))

		keys := []risk.DenyKey{
			{List: risk.Device, Value: "dev-1"},
			{List: risk.User, Value: "+8613800000000"}, // the same value on another list
			{List: risk.Phone, Value: "+8613800000000"},
			{List: risk.Device, Value: "dev-1"}, // asked twice, found once
			{List: risk.Device, Value: "dev-2"},
		}
		got, err := s.MatchDenyEntries(ctx, tenantA, riskBase.Add(time.Minute), keys)
		require.NoError(t, err)
		require.Len(t, got, 2)
		assertEntry(t, device, got[0])
		assertEntry(t, phone, got[1])

		got, err = s.MatchDenyEntries(ctx, tenantA, riskBase.Add(time.Hour), keys)
		require.NoError(t, err)
		require.Len(t, got, 1, "an entry is no longer in force at its expiry")
		assertEntry(t, phone, got[0])

		got, err = s.MatchDenyEntries(ctx, tenantB, riskBase, keys)
		require.NoError(t, err)
		assert.Empty(t, got, "another tenant's lists are not seen")

		got, err = s.MatchDenyEntries(ctx, tenantA, riskBase, nil)
		require.NoError(t, err)
		assert.Empty(t, got)

		// Replace: same list and value.
		renewed := device
		renewed.Reason = "emulator farm"
		renewed.ExpiresAt = time.Time{}
		require.NoError(t, s.PutDenyEntry(ctx, tenantA, renewed))
		got, err = s.MatchDenyEntries(ctx, tenantA, riskBase.Add(48*time.Hour), []risk.DenyKey{device.Key()})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assertEntry(t, renewed, got[0])

		ok, err := s.DeleteDenyEntry(ctx, tenantB, risk.Device, "dev-1")
		require.NoError(t, err)
		assert.False(t, ok, "deleting in another tenant finds nothing")
		ok, err = s.DeleteDenyEntry(ctx, tenantA, risk.Device, "dev-1")
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = s.DeleteDenyEntry(ctx, tenantA, risk.Device, "dev-1")
		require.NoError(t, err)
		assert.False(t, ok)
		got, err = s.MatchDenyEntries(ctx, tenantA, riskBase, keys)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assertEntry(t, phone, got[0])
	})

	t.Run("deny list bad input changes nothing", func(t *testing.T) {
		s := h.Open(t).Risk()
		good := risk.Entry{List: risk.User, Value: "u1", CreatedAt: riskBase}
		bad := []risk.Entry{
			{List: "email", Value: "x", CreatedAt: riskBase},
			{List: risk.User, Value: "", CreatedAt: riskBase},
			{List: risk.User, Value: string(make([]byte, risk.MaxValueLen+1)), CreatedAt: riskBase},
			{List: risk.User, Value: "u1", Reason: string(make([]byte, risk.MaxReasonLen+1)), CreatedAt: riskBase},
			{List: risk.User, Value: "u1"},
			{List: risk.User, Value: "u1", CreatedAt: riskBase, ExpiresAt: riskBase},
		}
		for i, e := range bad {
			err := s.PutDenyEntry(ctx, tenantA, e)
			require.ErrorIs(t, err, risk.ErrInvalidEntry, "case %d", i)
			require.ErrorIs(t, err, storage.ErrInvalidArgument, "case %d", i)
		}
		require.ErrorIs(t, s.PutDenyEntry(ctx, "", good), storage.ErrInvalidTenant)
		_, err := s.DeleteDenyEntry(ctx, tenantA, "email", "x")
		require.ErrorIs(t, err, risk.ErrInvalidEntry)
		_, err = s.MatchDenyEntries(ctx, tenantA, riskBase, []risk.DenyKey{{List: risk.User, Value: ""}})
		require.ErrorIs(t, err, risk.ErrInvalidEntry)
		_, err = s.MatchDenyEntries(ctx, "bad tenant!", riskBase, []risk.DenyKey{good.Key()})
		require.ErrorIs(t, err, storage.ErrInvalidTenant)
		got, err := s.MatchDenyEntries(ctx, tenantA, riskBase, []risk.DenyKey{good.Key()})
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("deny list rollback", func(t *testing.T) {
		st := h.Open(t)
		s := st.Risk()
		kept := risk.Entry{List: risk.User, Value: "kept", CreatedAt: riskBase}
		require.NoError(t, s.PutDenyEntry(ctx, tenantA, kept))
		boom := errors.New("boom")
		err := st.InTx(ctx, func(ctx context.Context) error {
			if err := s.PutDenyEntry(ctx, tenantA, risk.Entry{List: risk.User, Value: "new", CreatedAt: riskBase}); err != nil {
				return err
			}
			if _, err := s.DeleteDenyEntry(ctx, tenantA, risk.User, "kept"); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		got, err := s.MatchDenyEntries(ctx, tenantA, riskBase, []risk.DenyKey{{List: risk.User, Value: "new"}, kept.Key()})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assertEntry(t, kept, got[0])
	})

	t.Run("deny lists under concurrent writers on two instances", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		n := h.writers()
		shared := risk.Entry{List: risk.Device, Value: "shared", CreatedAt: riskBase}
		var wg sync.WaitGroup
		for g := range n {
			s := s1.Risk()
			if g%2 == 1 {
				s = s2.Risk()
			}
			wg.Go(func() {
				e := shared
				e.Reason = fmt.Sprintf("writer %d", g)
				assert.NoError(t, s.PutDenyEntry(ctx, tenantA, e), "writers replace one entry without duplicate errors")
				mine := risk.Entry{List: risk.User, Value: fmt.Sprintf("user-%d", g), CreatedAt: riskBase}
				assert.NoError(t, s.PutDenyEntry(ctx, tenantA, mine))
				got, err := s.MatchDenyEntries(ctx, tenantA, riskBase, []risk.DenyKey{mine.Key(), shared.Key()})
				if assert.NoError(t, err) {
					assert.Len(t, got, 2)
				}
			})
		}
		wg.Wait()
		keys := []risk.DenyKey{shared.Key()}
		for g := range n {
			keys = append(keys, risk.DenyKey{List: risk.User, Value: fmt.Sprintf("user-%d", g)})
		}
		got, err := s1.Risk().MatchDenyEntries(ctx, tenantA, riskBase, keys)
		require.NoError(t, err)
		require.Len(t, got, n+1)
		assert.Contains(t, got[0].Reason, "writer ", "one writer's entry won")
	})

	t.Run("prune", func(t *testing.T) {
		s := h.Open(t).Risk()
		old := bucketAt("k", riskBase, window)
		cur := bucketAt("k", old.End, window)
		for _, b := range []risk.Bucket{old, cur} {
			_, _, err := s.HitVelocity(ctx, tenantA, b, 5)
			require.NoError(t, err)
		}
		_, _, err := s.HitVelocity(ctx, tenantB, old, 5)
		require.NoError(t, err)
		expired := risk.Entry{List: risk.IP, Value: "10.0.0.1", CreatedAt: riskBase, ExpiresAt: riskBase.Add(window)}
		later := risk.Entry{List: risk.IP, Value: "10.0.0.2", CreatedAt: riskBase, ExpiresAt: riskBase.Add(2 * window)}
		forever := risk.Entry{List: risk.IP, Value: "10.0.0.3", CreatedAt: riskBase}
		for _, e := range []risk.Entry{expired, later, forever} {
			require.NoError(t, s.PutDenyEntry(ctx, tenantA, e))
		}

		_, err = s.PruneRisk(ctx, time.Time{})
		require.ErrorIs(t, err, storage.ErrInvalidArgument)
		n, err := s.PruneRisk(ctx, old.End.Add(-time.Millisecond))
		require.NoError(t, err)
		assert.Equal(t, int64(0), n, "nothing has ended yet")
		n, err = s.PruneRisk(ctx, old.End)
		require.NoError(t, err)
		assert.Equal(t, int64(3), n, "two tenants' old buckets and one expired entry")
		assert.Equal(t, int64(0), velocityCount(t, s, tenantA, old))
		assert.Equal(t, int64(0), velocityCount(t, s, tenantB, old))
		assert.Equal(t, int64(1), velocityCount(t, s, tenantA, cur))
		got, err := s.MatchDenyEntries(ctx, tenantA, riskBase, []risk.DenyKey{expired.Key(), later.Key(), forever.Key()})
		require.NoError(t, err)
		require.Len(t, got, 2)
		assertEntry(t, later, got[0])
		assertEntry(t, forever, got[1])
	})

	t.Run("engine on two instances admits exactly the limit", func(t *testing.T) {
		s1 := h.Open(t)
		s2 := h.second(t, s1)
		clock := storage.NewFakeClock(riskBase.Add(time.Minute))
		policies := []risk.Policy{
			risk.Velocity{Name: "claims-per-ip", Kinds: []string{"coupon.claim"}, By: risk.IP, Limit: 10, Window: window, Outcome: risk.Freeze},
			risk.DenyList{Name: "denied-device", Lists: []risk.Subject{risk.Device, risk.Phone}, Outcome: risk.Reject},
		}
		e1, err := risk.New(risk.Config{Store: s1.Risk(), Clock: clock, Tx: s1, Policies: policies})
		require.NoError(t, err)
		e2, err := risk.New(risk.Config{Store: s2.Risk(), Clock: clock, Tx: s2, Policies: policies})
		require.NoError(t, err)
		require.NoError(t, e1.Deny(ctx, tenantA, risk.Entry{List: risk.Device, Value: "bad-device", Reason: "farm"}))

		n := h.writers()
		var allowed, frozen, rejected atomic.Int64
		var wg sync.WaitGroup
		for g := range n {
			e := e1
			if g%2 == 1 {
				e = e2
			}
			wg.Go(func() {
				a := risk.Action{Kind: "coupon.claim", UserID: fmt.Sprintf("u%d", g), IP: "203.0.113.7", DeviceID: fmt.Sprintf("d%d", g)}
				if g == 0 {
					a.DeviceID = "bad-device"
				}
				d, err := e.Check(ctx, tenantA, a)
				if !assert.NoError(t, err) {
					return
				}
				switch d.Outcome {
				case risk.Allow:
					allowed.Add(1)
				case risk.Freeze:
					frozen.Add(1)
				case risk.Reject:
					rejected.Add(1)
				}
			})
		}
		wg.Wait()
		// Writer 0 is refused by the deny list but its attempt counts
		// against the IP: Reject if the hit was admitted, Freeze if the
		// window was already full. Either way exactly the limit was
		// admitted.
		assert.Equal(t, int64(min(10, n)), allowed.Load()+rejected.Load())
		assert.LessOrEqual(t, rejected.Load(), int64(1))
		assert.Equal(t, int64(n), allowed.Load()+frozen.Load()+rejected.Load())
		d, err := e2.Assess(ctx, tenantA, risk.Action{Kind: "coupon.claim", IP: "203.0.113.7"})
		require.NoError(t, err)
		if n >= 10 {
			assert.Equal(t, risk.Freeze, d.Outcome)
		}
		d, err = e2.Check(ctx, tenantB, risk.Action{Kind: "coupon.claim", IP: "203.0.113.7", DeviceID: "bad-device"})
		require.NoError(t, err)
		assert.Equal(t, risk.Allow, d.Outcome, "tenant B shares neither counters nor lists with A")
	})
}
