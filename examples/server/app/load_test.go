package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/examples/server/internal/pgtest"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// loadConfig sizes the load and fault test.
type loadConfig struct {
	Users    int           // members, each running the whole scenario
	Workers  int           // concurrent clients
	Stock    int64         // the flash coupon's stock (less than Users: a sell-out)
	Deadline time.Duration // the test stops issuing work after this
}

func loadConfigFromEnv() loadConfig {
	if os.Getenv("LOADTEST_FULL") == "1" {
		return loadConfig{Users: 1500, Workers: 48, Stock: 400, Deadline: 8 * time.Minute}
	}
	return loadConfig{Users: 60, Workers: 12, Stock: 25, Deadline: 40 * time.Second}
}

// instance is one server process standing in for a host: its own store
// (connection pool), NATS connection, background work and HTTP server.
type instance struct {
	name   string
	store  *sqlstore.Store
	nc     *nats.Conn
	app    *App
	srv    *http.Server
	url    string
	cancel context.CancelFunc
	done   chan struct{}
}

func startInstance(name, dsn string, ns *server.Server, cat *Catalogue, logger *slog.Logger) (*instance, error) {
	ctx, cancel := context.WithCancel(context.Background())
	store, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{MaxConns: 12, LockTimeout: 10 * time.Second})
	if err != nil {
		cancel()
		return nil, err
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.Name(name))
	if err != nil {
		cancel()
		_ = store.Close()
		return nil, err
	}
	a, err := New(ctx, Config{Store: store, NATS: nc, Secret: []byte(testSecret), Tenants: []storage.TenantID{tenantA}, Instance: name,
		Logger: logger.With("instance", name), TrustForwardedFor: true, Catalogue: cat,
		CallerLimit: RateLimit{Rate: 1000, Burst: 1000}, IPLimit: RateLimit{Rate: 10_000, Burst: 10_000}, ClaimsPerIP: 1_000_000,
		AckWait: 3 * time.Second, BackgroundInterval: 100 * time.Millisecond})
	if err == nil {
		var ln net.Listener
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err == nil {
			in := &instance{name: name, store: store, nc: nc, app: a, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan struct{}),
				srv: &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}}
			go func() { _ = in.srv.Serve(ln) }()
			go func() { defer close(in.done); _ = a.Run(ctx) }()
			return in, nil
		}
	}
	cancel()
	nc.Close()
	_ = store.Close()
	return nil, err
}

// kill stops the instance abruptly: connections cut, background work
// cancelled, store and NATS connection closed, whatever was in flight.
func (in *instance) kill() {
	_ = in.srv.Close()
	in.cancel()
	in.nc.Close()
	_ = in.store.Close()
	<-in.done
}

// cluster routes clients to the live instances.
type cluster struct {
	mu   sync.RWMutex
	urls []string
	next atomic.Uint64
}

func (c *cluster) set(urls ...string) {
	c.mu.Lock()
	c.urls = urls
	c.mu.Unlock()
}

func (c *cluster) pick() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.urls[int(c.next.Add(1))%len(c.urls)]
}

// loadStats gathers what the clients saw.
type loadStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	retries   atomic.Int64
	byStatus  sync.Map // int -> *atomic.Int64
}

func (s *loadStats) record(d time.Duration, status int) {
	s.mu.Lock()
	s.latencies = append(s.latencies, d)
	s.mu.Unlock()
	v, _ := s.byStatus.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

type loadClient struct {
	t     *testing.T
	c     *cluster
	http  *http.Client
	stats *loadStats
	stop  time.Time
}

// call sends one request, retrying with the same Idempotency-Key on
// connection errors and 5xx (an instance died or the database asked for a
// retry): at least once on the wire, once in effect.
func (lc *loadClient) call(token, method, path, key, ip string, body any) (int, json.RawMessage, string) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest(method, lc.c.pick()+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", ip)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		start := time.Now()
		resp, err := lc.http.Do(req)
		if err == nil {
			var env struct {
				Data  json.RawMessage `json:"data"`
				Error *errorBody      `json:"error"`
			}
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && json.Unmarshal(b, &env) == nil && resp.StatusCode < 500 {
				lc.stats.record(time.Since(start), resp.StatusCode)
				code := ""
				if env.Error != nil {
					code = env.Error.Code
				}
				return resp.StatusCode, env.Data, code
			}
		}
		lc.stats.retries.Add(1)
		if attempt > 60 || time.Now().After(lc.stop.Add(30*time.Second)) {
			lc.t.Errorf("%s %s: gave up after %d attempts (last err %v)", method, path, attempt, err)
			return 0, nil, "gave_up"
		}
		time.Sleep(time.Duration(20+attempt*20) * time.Millisecond)
	}
}

// outcome is what one member's scenario ended with, as the clients saw it.
type outcome struct {
	claimed   bool
	redeemTx  []string // distinct successful redemption transactions
	orderID   string
	paid      bool
	refunded  bool
	forwards  []string // order events published (each counted once)
	reverses  []string // forward events reversed
	reversals []string
}

// TestLoadAndFault runs two server instances over one PostgreSQL database
// and one NATS server; many clients claim a limited coupon, redeem points
// concurrently, check out with coupons, refund, and publish order events
// with duplicates and reverses, while one instance is killed midway and
// restarted. Afterwards nothing is oversold, spent twice, lost or counted
// twice, the ledger balances and reconciliation finds nothing.
// LOADTEST_FULL=1 runs the long configuration.
func TestLoadAndFault(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	cfg := loadConfigFromEnv()
	dsn := pgtest.DSN(t)
	ns := startNATS(t)
	cat := DefaultCatalogue()
	for i := range cat.Templates {
		if cat.Templates[i].ID == TemplateFlash {
			cat.Templates[i].Limits.Stock = cfg.Stock
		}
	}
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(io.Discard, nil)))
	if os.Getenv("LOADTEST_LOG") == "1" {
		logger = slog.New(NewLogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}
	in1, err := startInstance("node-1", dsn, ns, &cat, logger)
	require.NoError(t, err)
	in2, err := startInstance("node-2", dsn, ns, &cat, logger)
	require.NoError(t, err)
	var liveMu sync.Mutex
	live := []*instance{in1, in2}
	liveCount := func() int {
		liveMu.Lock()
		defer liveMu.Unlock()
		return len(live)
	}
	t.Cleanup(func() {
		liveMu.Lock()
		defer liveMu.Unlock()
		for _, in := range live {
			in.kill()
		}
	})
	cl := &cluster{}
	cl.set(in1.url, in2.url)
	issuer := in1.app.Issuer()
	tok := func(role Role, sub string) string {
		s, err := issuer.Token(tenantA, role, sub, time.Hour)
		assert.NoError(t, err)
		return s
	}
	adminTok := tok(RoleAdmin, "ops")
	shopTok := tok(RoleMerchant, "10086")

	js, err := jetstream.New(in2.nc)
	require.NoError(t, err)
	require.NoError(t, EnsureStreams(t.Context(), js, "orders", "rewardkit"))

	stats := &loadStats{}
	start := time.Now()
	stop := start.Add(cfg.Deadline)
	lc := &loadClient{t: t, c: cl, stats: stats, stop: stop,
		http: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers * 2}}}
	outcomes := make([]outcome, cfg.Users)
	var doneUsers atomic.Int64
	var published atomic.Int64

	scenario := func(u int) {
		o := &outcomes[u]
		id := fmt.Sprintf("m%04d", u)
		ip := fmt.Sprintf("10.%d.%d.%d", u/65536%256, u/256%256, u%256)
		mt := tok(RoleMember, id)
		st, _, code := lc.call(mt, "POST", "/api/v1/members", "reg-"+id, ip, map[string]string{"email": id + "@example.com", "name": "Member " + id})
		if !assert.Equal(t, http.StatusCreated, st, code) {
			return
		}
		st, _, code = lc.call(adminTok, "POST", "/api/v1/members/"+id+"/points/accrue", "acc-"+id, ip, map[string]any{"points": 1000})
		if !assert.Equal(t, http.StatusCreated, st, code) {
			return
		}

		var cp coupon.Coupon
		st, data, code := lc.call(mt, "POST", "/api/v1/coupons/claim", "claim-"+id, ip, map[string]string{"template_id": TemplateFlash})
		switch {
		case st == http.StatusCreated:
			o.claimed = assert.NoError(t, json.Unmarshal(data, &cp))
		case st == http.StatusConflict && code == "out_of_stock":
		default:
			t.Errorf("claim %s: %d %s", id, st, code)
		}

		// Three concurrent redemptions of 400 from 1000: at most two pass.
		var wg sync.WaitGroup
		var mu sync.Mutex
		for k := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, data, code := lc.call(mt, "POST", "/api/v1/members/"+id+"/points/redeem", fmt.Sprintf("red-%s-%d", id, k), ip, map[string]any{"points": 400})
				switch {
				case st == http.StatusCreated:
					var pr PointsResult
					assert.NoError(t, json.Unmarshal(data, &pr))
					mu.Lock()
					o.redeemTx = append(o.redeemTx, pr.TransactionID)
					mu.Unlock()
				case st == http.StatusUnprocessableEntity && code == "insufficient_points":
				default:
					t.Errorf("redeem %s: %d %s", id, st, code)
				}
			}()
		}
		wg.Wait()

		cart := map[string]any{"lines": []map[string]any{
			{"id": "l1", "sku": "tee", "merchant": "10086", "unit_price": "60.00", "quantity": 2},
			{"id": "l2", "sku": "mug", "merchant": "clay", "unit_price": "12.50", "quantity": 1}}}
		if o.claimed {
			cart["coupon_ids"] = []string{cp.ID}
		}
		var ord settlement.Order
		st, data, code = lc.call(mt, "POST", "/api/v1/orders", "ord-"+id, ip, cart)
		if st != http.StatusCreated {
			t.Errorf("order %s: %d %s", id, st, code)
			return
		}
		if !assert.NoError(t, json.Unmarshal(data, &ord)) {
			return
		}
		o.orderID = ord.ID
		st, _, code = lc.call(mt, "POST", "/api/v1/orders/"+ord.ID+"/pay", "pay-"+id, ip,
			map[string]string{"payment_ref": "psp-" + id, "amount": ord.Tenders[0].Amount.StringFixed()})
		if st != http.StatusOK {
			t.Errorf("pay %s: %d %s", id, st, code)
			return
		}
		o.paid = true
		if u%3 == 0 {
			st, _, code = lc.call(shopTok, "POST", "/api/v1/orders/"+ord.ID+"/refund", "ref-"+id, ip,
				map[string]any{"refund_id": "rma-" + id, "items": []map[string]any{{"line_id": "l1", "quantity": 1}}})
			if st != http.StatusOK {
				t.Errorf("refund %s: %d %s", id, st, code)
			}
			o.refunded = st == http.StatusOK
		}

		// Order events: two forwards, each published twice (the second
		// copy under another message ID, past JetStream's dedup), and for
		// every fourth member a reverse of the second, sometimes first.
		pub := func(ev string, msgID string) {
			for attempt := 0; ; attempt++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := js.PublishMsg(ctx, &nats.Msg{Subject: "orders." + string(tenantA), Data: []byte(ev),
					Header: nats.Header{jetstream.MsgIDHeader: []string{msgID}}})
				cancel()
				if err == nil {
					published.Add(1)
					return
				}
				if attempt > 20 {
					t.Errorf("publish: %v", err)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		e1, e2 := "ev-"+id+"-1", "ev-"+id+"-2"
		reverse := u%4 == 0
		if reverse && u%8 == 0 {
			pub(orderEvent("rv-"+id, id, "", reward.AfterSale, e2), "rv-"+id)
		}
		pub(orderEvent(e1, id, "99.90", reward.OrderInstalled, ""), e1)
		pub(orderEvent(e2, id, "45.00", reward.OrderInstalled, ""), e2)
		pub(orderEvent(e1, id, "99.90", reward.OrderInstalled, ""), e1+"-again")
		if reverse && u%8 != 0 {
			pub(orderEvent("rv-"+id, id, "", reward.AfterSale, e2), "rv-"+id)
		}
		o.forwards = []string{e1, e2}
		if reverse {
			o.reverses = []string{e2}
			o.reversals = []string{"rv-" + id}
		}
	}

	// Kill node-1 midway and bring it back.
	var faultOnce sync.Once
	fault := func() {
		faultOnce.Do(func() {
			go func() {
				cl.set(in2.url)
				in1.kill()
				liveMu.Lock()
				live = []*instance{in2}
				liveMu.Unlock()
				time.Sleep(500 * time.Millisecond)
				in1b, err := startInstance("node-1", dsn, ns, &cat, logger)
				if !assert.NoError(t, err) {
					return
				}
				liveMu.Lock()
				live = append(live, in1b)
				liveMu.Unlock()
				cl.set(in1b.url, in2.url)
			}()
		})
	}

	work := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				scenario(u)
				if doneUsers.Add(1) == int64(cfg.Users*2/5) {
					fault()
				}
			}
		}()
	}
	issued := 0
	for u := range cfg.Users {
		if time.Now().After(stop) {
			break
		}
		work <- u
		issued++
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	outcomes = outcomes[:issued]
	fault() // in case the run stopped early
	require.Eventually(t, func() bool { return liveCount() == 2 }, 30*time.Second, 50*time.Millisecond, "node-1 is back")

	// Let the consumers and relays drain.
	cons, err := js.Consumer(t.Context(), StreamOrders, ConsumerOrders)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, 90*time.Second, 100*time.Millisecond, "the order events drain")
	store := in2.store // node-2, alive throughout
	require.Eventually(t, func() bool {
		n, _, err := outboxLag(t.Context(), store, 1000)
		return err == nil && n == 0
	}, 90*time.Second, 100*time.Millisecond, "the outbox drains")

	ctx := t.Context()
	kit := in2.app.Kit()
	rewards := in2.app.Rewards()

	// No oversell: the flash coupon never issued more than its stock, one
	// per member, and exactly the claims the clients were told succeeded.
	claimed := 0
	for _, o := range outcomes {
		if o.claimed {
			claimed++
		}
	}
	fs, err := kit.Coupons.Stats(ctx, tenantA, TemplateFlash)
	require.NoError(t, err)
	assert.LessOrEqual(t, fs.Issued, cfg.Stock, "no oversell")
	assert.EqualValues(t, claimed, fs.Issued, "every issued coupon was reported to its claimer")
	assert.EqualValues(t, min(int64(len(outcomes)), cfg.Stock), fs.Issued, "the stock sold out (or every member got one)")

	// No double spend; every event counted once; lifetime points agree.
	var redeemed, forwards, reverses, orders, refunds int
	for u, o := range outcomes {
		id := fmt.Sprintf("m%04d", u)
		page, err := kit.Ledger.History(ctx, tenantA, kit.Loyalty.Account(id), ledger.HistoryQuery{Asset: Points, Limit: 100})
		require.NoError(t, err)
		var redeemTx []string
		var balance int64
		for i, e := range page.Entries {
			if e.Other == accountRedeemed {
				redeemTx = append(redeemTx, e.TxID)
			}
			if i == 0 {
				balance, _ = e.Balance.Minor()
			}
		}
		slices.Sort(redeemTx)
		got := slices.Clone(o.redeemTx)
		slices.Sort(got)
		assert.Equal(t, got, redeemTx, "member %s: the ledger holds exactly the redemptions reported", id)
		assert.LessOrEqual(t, len(redeemTx), 2, "member %s: never more than the balance", id)
		redeemed += len(redeemTx)

		// 1000 granted, 99 + 45 per forward event (reversed ones taken back),
		// 400 per redemption; no challenge tier is reached with 2 orders.
		want := int64(1000 + 99 + 45 - 400*len(redeemTx))
		if len(o.reverses) > 0 {
			want -= 45
		}
		if len(o.forwards) == 2 {
			assert.Equal(t, want, balance, "member %s: points", id)
			prog, err := rewards.Progress(ctx, tenantA, CampaignOrders, "", id)
			require.NoError(t, err)
			assert.EqualValues(t, 2-len(o.reverses), prog.Value, "member %s: order count", id)
			m, err := kit.Loyalty.Member(ctx, tenantA, id)
			require.NoError(t, err)
			pts, _ := m.Points.Minor()
			lifetime, _ := m.Lifetime.Minor()
			assert.Equal(t, want, pts, "member %s: loyalty points", id)
			assert.Equal(t, want+int64(400*len(redeemTx)), lifetime, "member %s: lifetime points", id)
			wantTier := "bronze"
			if lifetime >= 1000 {
				wantTier = "silver"
			}
			assert.Equal(t, wantTier, m.Tier, "member %s: tier", id)
		}
		forwards += len(o.forwards)
		reverses += len(o.reversals)
		if o.paid {
			orders++
		}
		if o.refunded {
			refunds++
		}
	}
	all, err := store.Settlement().FindOrders(ctx, settlement.OrderQuery{Tenant: tenantA})
	require.NoError(t, err)
	assert.Len(t, all, orders, "one order per member, however often the create was retried")

	// The ledger balances: every asset's balances sum to zero.
	rows, err := store.DB().QueryContext(ctx, "SELECT asset, SUM(posted), SUM(held) FROM "+store.TablePrefix()+"ledger_balances WHERE tenant = $1 GROUP BY asset", string(tenantA))
	require.NoError(t, err)
	assets := 0
	for rows.Next() {
		var asset string
		var posted, held int64
		require.NoError(t, rows.Scan(&asset, &posted, &held))
		assert.Zero(t, posted, "asset %s balances sum to zero", asset)
		assets++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	assert.Equal(t, 2, assets, "USD and POINTS")

	rep, err := kit.Orders.Reconcile(ctx, tenantA)
	require.NoError(t, err)
	for _, m := range rep.Mismatches {
		t.Errorf("reconcile: %s", m)
	}

	stats.mu.Lock()
	lat := slices.Clone(stats.latencies)
	stats.mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	var codes []string
	stats.byStatus.Range(func(k, v any) bool {
		codes = append(codes, fmt.Sprintf("%d:%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(codes)
	report := fmt.Sprintf("load: %d members, %d workers, 2 instances (node-1 killed at %d%% and restarted), PostgreSQL + NATS\n"+
		"  %d HTTP requests in %.1fs = %.0f req/s held; latency p50 %s, p99 %s; %d client retries; statuses %s\n"+
		"  reconciled: %d orders (%d refunded), %d ledger transactions, %d coupons checked, %d mismatches\n"+
		"  flash coupon: %d issued of stock %d; %d point redemptions; %d order events published (%d forwards, %d reverses, rest duplicates)",
		len(outcomes), cfg.Workers, 40, len(lat), elapsed.Seconds(), float64(len(lat))/elapsed.Seconds(), pct(0.5).Round(time.Microsecond*100),
		pct(0.99).Round(time.Microsecond*100), stats.retries.Load(), strings.Join(codes, " "),
		rep.Orders, refunds, rep.Postings, rep.Coupons, len(rep.Mismatches), fs.Issued, cfg.Stock, redeemed, published.Load(), forwards, reverses)
	t.Log("\n" + report)
	fmt.Println(report)
}
