package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// TestWriteTransition: PostgreSQL writes a transition (the coupon, its
// audit entry, its outbox message) as one step: all of it, or nothing
// when the coupon moved meanwhile, is missing, or the event ID is taken.
// SQLite declines it (the portable path serves it).
func TestWriteTransition(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, be.place(t), sqlstore.Options{})
			cs := s.Coupons().(*sqlstore.CouponStore)
			svc := claimService(t, s, cs, claimTemplate("t1", 10, 0))
			c, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "t1", UserID: "u1"})
			require.NoError(t, err)
			before := len(pendingOutbox(t, s))

			frozen := c
			frozen.State, frozen.FrozenFrom, frozen.Version = coupon.StateFrozen, coupon.StateActivated, c.Version+1
			frozen.UpdatedAt = c.UpdatedAt.Add(time.Minute).Truncate(time.Microsecond)
			entry := func(id, couponID string) coupon.AuditEntry {
				return coupon.AuditEntry{Tenant: tenantA, EventID: id, CouponID: couponID, TemplateID: "t1", UserID: "u1",
					Event: coupon.EventFreeze, From: coupon.StateActivated, To: coupon.StateFrozen, Actor: "risk", Reason: "velocity", At: frozen.UpdatedAt}
			}
			message := func(id, couponID string) storage.Message {
				return storage.Message{EventID: id, Tenant: tenantA, Topic: "coupon.freeze", AggregateType: "coupon", AggregateID: couponID,
					Payload: []byte(`{"event":"freeze"}`), CreatedAt: frozen.UpdatedAt}
			}
			write := func(c coupon.Coupon, from coupon.State, version int64, ev string) (bool, bool, error) {
				return cs.WriteTransition(ctx, s, c, from, version, entry(ev, c.ID), message(ev, c.ID))
			}
			trail := func() int {
				es, err := cs.Audit(ctx, tenantA, c.ID)
				require.NoError(t, err)
				return len(es)
			}

			if be.name != "postgres" {
				handled, _, err := write(frozen, coupon.StateActivated, c.Version, "e1")
				require.NoError(t, err)
				assert.False(t, handled, "SQLite has no one-statement transition")
				return
			}

			handled, updated, err := write(frozen, coupon.StateActivated, c.Version+5, "e0")
			assert.True(t, handled)
			assert.False(t, updated)
			require.ErrorIs(t, err, storage.ErrConflict, "a stale version")
			missing := frozen
			missing.ID = "nope"
			handled, updated, err = write(missing, coupon.StateActivated, c.Version, "e0")
			assert.True(t, handled)
			assert.False(t, updated)
			require.ErrorIs(t, err, storage.ErrNotFound)
			assert.Equal(t, 1, trail(), "nothing written")
			assert.Len(t, pendingOutbox(t, s), before)

			handled, updated, err = write(frozen, coupon.StateActivated, c.Version, "e1")
			require.NoError(t, err)
			assert.True(t, handled && updated)
			got, err := cs.Coupon(ctx, tenantA, c.ID)
			require.NoError(t, err)
			assert.Equal(t, coupon.StateFrozen, got.State)
			assert.Equal(t, frozen.Version, got.Version)
			es, err := cs.Audit(ctx, tenantA, c.ID)
			require.NoError(t, err)
			require.Len(t, es, 2)
			assert.Equal(t, entry("e1", c.ID), es[1])
			msgs := pendingOutbox(t, s)
			require.Len(t, msgs, before+1)
			assert.Equal(t, "e1", msgs[len(msgs)-1].EventID)
			assert.JSONEq(t, `{"event":"freeze"}`, string(msgs[len(msgs)-1].Payload))

			back := got
			back.State, back.FrozenFrom, back.Version = coupon.StateActivated, "", got.Version+1
			_, _, err = write(back, coupon.StateFrozen, got.Version, "e1")
			require.ErrorIs(t, err, storage.ErrDuplicate, "a taken event ID")
			got, err = cs.Coupon(ctx, tenantA, c.ID)
			require.NoError(t, err)
			assert.Equal(t, coupon.StateFrozen, got.State, "the coupon stays as it was")
			assert.Equal(t, 2, trail())
		})
	}
}

// TestClaimBatchWithATakenID: claims queued behind a statement that waits
// for the stock row go as one batch. One of them is a claim sent again
// after it was made (its coupon ID taken by itself), one reuses that ID
// for another user: the batch fails on the taken ID, writes nothing, and
// every claim is sent alone, so the fresh ones are made, the resent one
// answers made without counting twice, and the stranger gets
// ErrDuplicate.
func TestClaimBatchWithATakenID(t *testing.T) {
	ctx := context.Background()
	be := backendNamed("postgres")
	s := be.open(t, be.place(t), sqlstore.Options{})
	rec := &recordingClaims{CouponStore: s.Coupons().(*sqlstore.CouponStore)}
	svc := claimService(t, s, rec, claimTemplate("t1", 100, 1))
	_, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "t1", UserID: "u1"})
	require.NoError(t, err)
	made := *rec // the arguments of u1's claim, made

	// claim builds the arguments of a claim by user with coupon ID id,
	// from u1's.
	claim := func(user, id string) func() (bool, bool, bool, error) {
		c, e, m := made.c, made.e, made.m
		c.ID, c.UserID = id, user
		e.CouponID, e.UserID, e.EventID = id, user, "ev-"+user
		m.EventID, m.AggregateID, m.Payload = e.EventID, id, []byte(`{"user":"`+user+`"}`)
		return func() (bool, bool, bool, error) {
			return rec.CouponStore.ClaimDirect(ctx, made.outbox, made.counters, c, e, m, "coupon/t1/user/"+user, made.perUser, made.stockKey, made.stock)
		}
	}
	calls := map[string]func() (bool, bool, bool, error){
		"u1 again": func() (bool, bool, bool, error) {
			return rec.CouponStore.ClaimDirect(ctx, made.outbox, made.counters, made.c, made.e, made.m, made.userKey, made.perUser, made.stockKey, made.stock)
		},
		"stranger": claim("u9", made.c.ID),
	}
	for _, u := range []string{"u3", "u4", "u5", "u6"} {
		calls[u] = claim(u, "c-"+u)
	}

	// hold the stock row so that the first claim's statement waits, and
	// the others queue behind it
	hold, err := s.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = hold.ExecContext(ctx, "SELECT value FROM rk_counters WHERE tenant = $1 AND name = $2 FOR UPDATE", string(tenantA), made.stockKey)
	require.NoError(t, err)
	type outcome struct {
		made bool
		err  error
	}
	var mu sync.Mutex
	got := map[string]outcome{}
	var wg sync.WaitGroup
	run := func(name string, f func() (bool, bool, bool, error)) {
		wg.Go(func() {
			handled, userOK, stockOK, err := f()
			mu.Lock()
			got[name] = outcome{handled && userOK && stockOK, err}
			mu.Unlock()
		})
	}
	run("u2", claim("u2", "c-u2"))
	time.Sleep(50 * time.Millisecond)
	for name, f := range calls {
		run(name, f)
	}
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, hold.Commit())
	wg.Wait()

	for _, u := range []string{"u2", "u3", "u4", "u5", "u6", "u1 again"} {
		assert.Equal(t, outcome{made: true}, got[u], u)
	}
	assert.False(t, got["stranger"].made)
	assert.ErrorIs(t, got["stranger"].err, storage.ErrDuplicate)
	assert.Equal(t, int64(6), counterOf(t, s, tenantA, made.stockKey), "u1 to u6, each once")
	assert.Equal(t, int64(1), counterOf(t, s, tenantA, "coupon/t1/user/u1"))
	assert.Zero(t, counterOf(t, s, tenantA, "coupon/t1/user/u9"))
	cs, err := s.Coupons().FindCoupons(ctx, coupon.Query{Tenant: tenantA, TemplateID: "t1"})
	require.NoError(t, err)
	assert.Len(t, cs, 6)
}
