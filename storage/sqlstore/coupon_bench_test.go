package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// The claim's fast paths are tested here beside their benchmarks:
// whichever path a claim takes (one autocommit statement, a group of
// claims in one statement, one statement inside a transaction, or the
// portable path on SQLite), it decides the same and leaves the same rows.

// directCounter counts the claims the adapter served by ClaimDirect.
type directCounter struct {
	*sqlstore.CouponStore
	handled atomic.Int64
}

func (d *directCounter) ClaimDirect(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c coupon.Coupon, e coupon.AuditEntry, m storage.Message,
	userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error) {
	handled, userOK, stockOK, err = d.CouponStore.ClaimDirect(ctx, outbox, counters, c, e, m, userKey, perUser, stockKey, stock)
	if handled {
		d.handled.Add(1)
	}
	return handled, userOK, stockOK, err
}

// claimService is a coupon Service over store (s's coupon store, or a
// wrapper of it) in s's transactions, with template tpl created.
func claimService(t testing.TB, s *sqlstore.Store, store coupon.Store, tpl coupon.Template) *coupon.Service {
	t.Helper()
	svc, err := coupon.New(coupon.Config{Store: store, Tx: s})
	require.NoError(t, err)
	_, err = svc.CreateTemplate(context.Background(), tpl)
	require.NoError(t, err)
	return svc
}

func claimTemplate(id string, stock, perUser int64) coupon.Template {
	return coupon.Template{
		Tenant: tenantA, ID: id,
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: money.MustParse("5", money.USD)},
		Validity: coupon.Validity{Days: 30},
		Limits:   coupon.Limits{Stock: stock, PerUser: perUser},
	}
}

func claimOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, coupon.ErrUserLimit):
		return "user limit"
	case errors.Is(err, coupon.ErrOutOfStock):
		return "out of stock"
	}
	return err.Error()
}

func pendingOutbox(t *testing.T, s *sqlstore.Store) []storage.Message {
	t.Helper()
	var all []storage.Message
	for p := range storage.OutboxPartitions {
		msgs, err := s.PendingOutbox(context.Background(), p, 1000)
		require.NoError(t, err)
		all = append(all, msgs...)
	}
	return all
}

// TestClaimPathsAgree: the same claims, without a transaction (PostgreSQL:
// one autocommit statement each) and each in a transaction of its own
// (PostgreSQL: one statement between BEGIN and COMMIT), refuse the same
// and write the same; a refusal leaves nothing behind.
func TestClaimPathsAgree(t *testing.T) {
	ctx := context.Background()
	for _, inTx := range []bool{false, true} {
		name := "alone"
		if inTx {
			name = "in a transaction"
		}
		t.Run(name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, be backend, place string) {
				s := be.open(t, place, sqlstore.Options{})
				store := &directCounter{CouponStore: s.Coupons().(*sqlstore.CouponStore)}
				svc := claimService(t, s, store, claimTemplate("t1", 3, 2))
				var got []string
				for _, u := range []string{"u1", "u1", "u1", "u2", "u3"} {
					claim := func(ctx context.Context) error {
						_, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "t1", UserID: u})
						return err
					}
					var err error
					if inTx {
						err = s.InTx(ctx, claim)
					} else {
						err = claim(ctx)
					}
					got = append(got, claimOutcome(err))
				}
				assert.Equal(t, []string{"ok", "ok", "user limit", "ok", "out of stock"}, got)
				assert.Equal(t, int64(3), counterOf(t, s, tenantA, "coupon/t1/issued"))
				assert.Equal(t, int64(2), counterOf(t, s, tenantA, "coupon/t1/user/u1"))
				assert.Equal(t, int64(0), counterOf(t, s, tenantA, "coupon/t1/user/u3"), "a refused claim takes nothing")
				cs, err := s.Coupons().FindCoupons(ctx, coupon.Query{Tenant: tenantA, TemplateID: "t1"})
				require.NoError(t, err)
				require.Len(t, cs, 3)
				msgs := pendingOutbox(t, s)
				require.Len(t, msgs, 3, "one message per coupon issued")
				byID := map[string]storage.Message{}
				for _, m := range msgs {
					byID[m.AggregateID] = m
				}
				for _, c := range cs {
					assert.Equal(t, coupon.StateActivated, c.State)
					trail, err := svc.Audit(ctx, tenantA, c.ID)
					require.NoError(t, err)
					require.Len(t, trail, 1)
					assert.Equal(t, byID[c.ID].EventID, trail[0].EventID, "audit entry and message share the event")
					assert.Equal(t, "coupon.claim", byID[c.ID].Topic)
				}
				if be.name == "postgres" && !inTx {
					assert.Equal(t, int64(5), store.handled.Load(), "every claim was one autocommit statement")
				} else {
					assert.Zero(t, store.handled.Load(), "in a transaction, or on SQLite, the claim is not direct")
				}
			})
		})
	}
}

// TestClaimGroupsUnderContention: many concurrent claims of one template
// from two store instances, four per user, on a stock smaller than the
// users: on PostgreSQL they go in groups (one statement per group, with a
// user's second claim in a later group and the last coupons claimed one
// by one); exactly the stock is issued, one per user, nothing else is
// written.
func TestClaimGroupsUnderContention(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, be backend, place string) {
		s1 := be.open(t, place, sqlstore.Options{})
		s2 := be.open(t, place, sqlstore.Options{SkipMigrate: true})
		svc1, err := coupon.New(coupon.Config{Store: s1.Coupons(), Tx: s1})
		require.NoError(t, err)
		svc2, err := coupon.New(coupon.Config{Store: s2.Coupons(), Tx: s2})
		require.NoError(t, err)
		const stock, users, claims = 60, 100, 400
		_, err = svc1.CreateTemplate(ctx, claimTemplate("hot", stock, 1))
		require.NoError(t, err)
		var mu sync.Mutex
		outcomes := map[string]int{}
		var wg sync.WaitGroup
		for i := range claims {
			svc := svc1
			if i%2 == 1 {
				svc = svc2
			}
			wg.Go(func() {
				_, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "hot", UserID: fmt.Sprintf("u%03d", i%users)})
				mu.Lock()
				outcomes[claimOutcome(err)]++
				mu.Unlock()
			})
		}
		wg.Wait()
		assert.Equal(t, stock, outcomes["ok"])
		assert.Equal(t, claims, outcomes["ok"]+outcomes["user limit"]+outcomes["out of stock"], "%v", outcomes)
		cs, err := s1.Coupons().FindCoupons(ctx, coupon.Query{Tenant: tenantA, TemplateID: "hot"})
		require.NoError(t, err)
		require.Len(t, cs, stock)
		holders := map[string]bool{}
		for _, c := range cs {
			assert.False(t, holders[c.UserID], "user %s holds two", c.UserID)
			holders[c.UserID] = true
			assert.Equal(t, int64(1), counterOf(t, s1, tenantA, "coupon/hot/user/"+c.UserID))
		}
		assert.Equal(t, int64(stock), counterOf(t, s1, tenantA, "coupon/hot/issued"))
		assert.Len(t, pendingOutbox(t, s1), stock)
		for u := range users {
			if id := fmt.Sprintf("u%03d", u); !holders[id] {
				assert.Zero(t, counterOf(t, s1, tenantA, "coupon/hot/user/"+id), "user %s got nothing and holds no count", id)
			}
		}
	})
}

func backendNamed(name string) backend {
	for _, b := range backends {
		if b.name == name {
			return b
		}
	}
	panic("no backend " + name)
}

func benchCouponService(b *testing.B, backendName string, conns int, templates ...string) (*coupon.Service, *sqlstore.Store) {
	be := backendNamed(backendName)
	s := be.open(b, be.place(b), sqlstore.Options{MaxConns: conns, GroupCommit: benchGroup, GroupCommitDelay: benchDelay})
	svc, err := coupon.New(coupon.Config{Store: s.Coupons(), Tx: s})
	require.NoError(b, err)
	if len(templates) == 0 {
		templates = []string{"hot"}
	}
	for _, id := range templates {
		_, err = svc.CreateTemplate(context.Background(), coupon.Template{
			Tenant: tenantA, ID: id,
			Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: money.MustParse("5", money.USD)},
			Validity: coupon.Validity{Days: 30},
			Limits:   coupon.Limits{Stock: 1 << 40, PerUser: 1},
		})
		require.NoError(b, err)
	}
	return svc, s
}

// BenchmarkClaimHotTemplatePostgres: claims of distinct users on one
// template (one hot stock row) from 16 goroutines over 16 connections.
// Besides claims/s it reports the CPU one claim costs the server
// (srv-us/op) and this process (cli-us/op).
func BenchmarkClaimHotTemplatePostgres(b *testing.B) {
	benchClaimsPostgres(b, 1)
}

// BenchmarkClaimSpreadTemplatesPostgres is BenchmarkClaimHotTemplatePostgres
// over 16 templates: no stock row is hot, which shows what the hot row
// costs.
func BenchmarkClaimSpreadTemplatesPostgres(b *testing.B) {
	benchClaimsPostgres(b, 16)
}

// claimers is the number of concurrent claimers in the PostgreSQL claim
// benchmarks, one per connection.
var claimers = 16

func benchClaimsPostgres(b *testing.B, templates int) {
	ids := make([]string, templates)
	for i := range ids {
		ids[i] = fmt.Sprintf("hot%d", i)
	}
	svc, s := benchCouponService(b, "postgres", 16, ids...)
	claim := claims(svc, ids)
	var n atomic.Int64
	// 16 claimers over 16 connections, like pgbench's 16 clients (more
	// goroutines than connections would only queue for the pool)
	b.SetParallelism(max(1, claimers/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	cpu := startCPU(b, s.DB())
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := claim(n.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	cpu.report(b, b.N, 0)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "claims/s")
}

// claims returns the i-th claim on svc: user "u<i>" claims one of the
// templates ids, in turn.
func claims(svc *coupon.Service, ids []string) func(i int64) error {
	return func(i int64) error {
		u := "u" + strconv.FormatInt(i, 10)
		_, err := svc.Claim(context.Background(), coupon.ClaimRequest{Tenant: tenantA, TemplateID: ids[int(i)%len(ids)], UserID: u})
		return err
	}
}

// BenchmarkGenerateCodesPostgres loads 100,000 codes into PostgreSQL
// (chunks of 5,000 per transaction, each one INSERT of column arrays).
func BenchmarkGenerateCodesPostgres(b *testing.B) {
	svc, _ := benchCouponService(b, "postgres", 4, "hot")
	ctx := context.Background()
	const count = 100_000
	b.ReportAllocs()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		codes, err := svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: tenantA, TemplateID: "hot", Count: count, ChunkSize: 5000})
		require.NoError(b, err)
		require.Len(b, codes, count)
	}
	b.ReportMetric(float64(count*b.N)/time.Since(start).Seconds(), "codes/s")
}

// recordingClaims keeps the arguments of the last ClaimDirect call.
type recordingClaims struct {
	*sqlstore.CouponStore
	outbox   storage.OutboxStore
	counters storage.CounterStore
	c        coupon.Coupon
	e        coupon.AuditEntry
	m        storage.Message
	userKey  string
	perUser  int64
	stockKey string
	stock    int64
}

func (r *recordingClaims) ClaimDirect(ctx context.Context, outbox storage.OutboxStore, counters storage.CounterStore, c coupon.Coupon, e coupon.AuditEntry, m storage.Message,
	userKey string, perUser int64, stockKey string, stock int64) (handled, userOK, stockOK bool, err error) {
	r.outbox, r.counters, r.c, r.e, r.m, r.userKey, r.perUser, r.stockKey, r.stock = outbox, counters, c, e, m, userKey, perUser, stockKey, stock
	return r.again(ctx, c, e)
}

// again sends the last claim once more, with c and e as its coupon and
// audit entry.
func (r *recordingClaims) again(ctx context.Context, c coupon.Coupon, e coupon.AuditEntry) (handled, userOK, stockOK bool, err error) {
	return r.CouponStore.ClaimDirect(ctx, r.outbox, r.counters, c, e, r.m, r.userKey, r.perUser, r.stockKey, r.stock)
}

// TestClaimDirectSentAgain: a claim sent again after its statement
// committed (a group statement whose answer the connection lost) finds
// its own coupon and answers made, counting nothing twice; a coupon ID
// taken by another user's coupon is still ErrDuplicate.
func TestClaimDirectSentAgain(t *testing.T) {
	ctx := context.Background()
	be := backends[1] // ClaimDirect is PostgreSQL's
	require.Equal(t, "postgres", be.name)
	s := be.open(t, be.place(t), sqlstore.Options{})
	store := &recordingClaims{CouponStore: s.Coupons().(*sqlstore.CouponStore)}
	svc := claimService(t, s, store, claimTemplate("t1", 5, 0))
	c, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "t1", UserID: "u1"})
	require.NoError(t, err)
	require.Equal(t, c.ID, store.c.ID, "the claim went through ClaimDirect")

	handled, userOK, stockOK, err := store.again(ctx, store.c, store.e)
	require.NoError(t, err)
	assert.True(t, handled && userOK && stockOK, "the claim's own coupon: made")
	st, err := svc.Stats(ctx, tenantA, "t1")
	require.NoError(t, err)
	assert.Equal(t, int64(4), st.RemainingStock, "the stock was taken once")

	stranger, entry := store.c, store.e
	stranger.UserID, entry.UserID = "u9", "u9"
	handled, _, _, err = store.again(ctx, stranger, entry)
	require.True(t, handled)
	require.ErrorIs(t, err, storage.ErrDuplicate, "another user's coupon under this ID is not this claim")
	st, err = svc.Stats(ctx, tenantA, "t1")
	require.NoError(t, err)
	assert.Equal(t, int64(4), st.RemainingStock)
}
