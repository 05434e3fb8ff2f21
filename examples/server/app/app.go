// Package app is the reference host service: an HTTP JSON API over
// rewardkit with JWT authentication, per-caller and per-IP rate limits,
// NATS JetStream event transport, Prometheus metrics and structured logs.
// main.go wires it; the tests run two instances of it over one database.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rewardkit/rewardkit"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
)

// Store is what the server needs from a storage adapter: the facade's
// (which includes the reward engine's and the loyalty program's).
// storage/memory and storage/sqlstore implement it.
type Store interface {
	rewardkit.Store
}

// Config wires an App. Store and Secret are required.
type Config struct {
	Store Store
	// NATS carries order events in and outbox events out; nil runs
	// without event transport.
	NATS *nats.Conn
	// Secret signs and verifies the HS256 tokens (at least 32 bytes).
	Secret []byte
	// Tenants are seeded with the demo catalogue and swept by the
	// background work; default ["demo"].
	Tenants []storage.TenantID
	// Currency of carts and orders; default USD.
	Currency money.Currency
	Logger   *slog.Logger
	Clock    storage.Clock
	// Instance names this process in leases and logs.
	Instance string
	// TrustForwardedFor takes the client IP from X-Forwarded-For (set it
	// only behind a proxy that overwrites the header).
	TrustForwardedFor bool
	// CallerLimit and IPLimit are the per-process token buckets of the
	// claim and redeem routes; default 5/s with bursts of 10 per caller and
	// 20/s with bursts of 40 per IP. MaxBuckets bounds each map.
	CallerLimit, IPLimit RateLimit
	MaxBuckets           int
	// ClaimsPerIP is the shared (database-held) velocity limit of coupon
	// claims per IP in ClaimWindow; beyond it the claiming account is
	// frozen (deny-listed for FreezeFor). Default 10 in 5 minutes, 1h.
	ClaimsPerIP int64
	ClaimWindow time.Duration
	FreezeFor   time.Duration
	// MaxBody bounds request bodies; default 64 KiB.
	MaxBody int64
	// Catalogue is the templates, offers, tiers and campaigns seeded into
	// every tenant; default DefaultCatalogue().
	Catalogue *Catalogue
	// OrdersSubject prefixes the subjects order events arrive on
	// ("orders.<tenant>"); EventsSubject prefixes the outbox subjects
	// ("rewardkit.<tenant>.<topic>"). Defaults "orders" and "rewardkit".
	OrdersSubject, EventsSubject string
	// AckWait is how long the order-event consumer waits for an ack before
	// JetStream redelivers (an instance that died mid-event); default 30s.
	AckWait time.Duration
	// BackgroundInterval is the pace of sweeps and the outbox relay;
	// default 500ms.
	BackgroundInterval time.Duration
}

func (c *Config) defaults() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("app: Config.Store is required"))
	}
	if len(c.Secret) < 32 {
		errs = append(errs, errors.New("app: Config.Secret must hold at least 32 bytes"))
	}
	if len(c.Tenants) == 0 {
		c.Tenants = []storage.TenantID{"demo"}
	}
	for _, t := range c.Tenants {
		if err := t.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Currency.IsZero() {
		c.Currency = money.USD
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if c.Clock == nil {
		c.Clock = storage.SystemClock{}
	}
	if c.Instance == "" {
		c.Instance = newRequestID()
	}
	if c.CallerLimit == (RateLimit{}) {
		c.CallerLimit = RateLimit{Rate: 5, Burst: 10}
	}
	if c.IPLimit == (RateLimit{}) {
		c.IPLimit = RateLimit{Rate: 20, Burst: 40}
	}
	if c.ClaimsPerIP == 0 {
		c.ClaimsPerIP = 10
	}
	if c.ClaimWindow == 0 {
		c.ClaimWindow = 5 * time.Minute
	}
	if c.FreezeFor == 0 {
		c.FreezeFor = time.Hour
	}
	if c.MaxBody == 0 {
		c.MaxBody = 64 << 10
	}
	if c.Catalogue == nil {
		cat := DefaultCatalogue()
		c.Catalogue = &cat
	}
	if c.OrdersSubject == "" {
		c.OrdersSubject = "orders"
	}
	if c.EventsSubject == "" {
		c.EventsSubject = "rewardkit"
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.BackgroundInterval == 0 {
		c.BackgroundInterval = 500 * time.Millisecond
	}
	return errors.Join(errs...)
}

// App is one instance of the host service.
type App struct {
	cfg     Config
	store   Store
	kit     *rewardkit.Kit
	rewards *reward.Engine
	issuer  *Issuer
	log     *slog.Logger
	clock   storage.Clock
	metrics *metrics
	points  money.Currency

	callerBuckets, ipBuckets *buckets
	handler                  http.Handler

	runMu   sync.Mutex
	running bool
}

// Points is the loyalty points asset (scale 0).
var Points = money.MustCurrency("POINTS", 0)

// New wires an App over cfg.Store and seeds the catalogue into every tenant
// (idempotently: instances starting together seed once).
func New(ctx context.Context, cfg Config) (*App, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	assets, err := money.NewRegistry(Points)
	if err != nil {
		return nil, err
	}
	policies := []risk.Policy{
		risk.DenyList{Name: "denied", Lists: []risk.Subject{risk.User, risk.IP, risk.Device}, Outcome: risk.Reject},
		risk.Velocity{Name: "claims-per-ip", Kinds: []string{actClaim}, By: risk.IP, Limit: cfg.ClaimsPerIP, Window: cfg.ClaimWindow, Outcome: risk.Freeze},
		risk.Velocity{Name: "redeems-per-member", Kinds: []string{actRedeem}, By: risk.User, Limit: 60, Window: time.Hour, Outcome: risk.Reject},
		risk.Velocity{Name: "consumes-per-merchant", Kinds: []string{actConsume}, By: risk.Merchant, Limit: 10_000, Window: time.Minute, Outcome: risk.Review},
		risk.Threshold{Name: "high-value", Kinds: []string{actRedeem, actConsume},
			Min: []money.Amount{money.MustParse("1000", cfg.Currency), money.FromMinor(100_000, Points)}, Outcome: risk.Review},
	}
	a := &App{cfg: cfg, store: cfg.Store, log: cfg.Logger, clock: cfg.Clock, points: Points,
		callerBuckets: newBuckets(cfg.CallerLimit, cfg.MaxBuckets), ipBuckets: newBuckets(cfg.IPLimit, cfg.MaxBuckets)}
	// Campaign awards of points are loyalty grants (pointsAwarder), so
	// they count towards lifetime points and tiers.
	kit, err := rewardkit.New(rewardkit.Config{Store: cfg.Store, Clock: cfg.Clock, Assets: assets, RiskPolicies: policies, Instance: cfg.Instance,
		RewardAwarder: pointsAwarder{a}, Loyalty: cfg.Catalogue.loyalty(cfg.Currency)})
	if err != nil {
		return nil, err
	}
	a.kit, a.rewards = kit, kit.Rewards
	a.issuer, err = NewIssuer(cfg.Secret, cfg.Clock.Now)
	if err != nil {
		return nil, err
	}
	a.metrics = newMetrics(cfg.Store, cfg.Clock)
	for _, t := range cfg.Tenants {
		if err := a.seed(ctx, t); err != nil {
			return nil, fmt.Errorf("app: seeding tenant %s: %w", t, err)
		}
	}
	a.handler = a.routes()
	return a, nil
}

// Kit returns the rewardkit services the App runs on.
func (a *App) Kit() *rewardkit.Kit { return a.kit }

// Rewards returns the campaign engine.
func (a *App) Rewards() *reward.Engine { return a.rewards }

// Issuer returns the token issuer (for tools and tests that mint tokens).
func (a *App) Issuer() *Issuer { return a.issuer }

// Handler returns the HTTP API.
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler serves the App's Prometheus registry.
func (a *App) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{})
}

// Run runs the background work until ctx is done: sweeps and the outbox
// relay (kit.Background) and, with NATS, the order-event consumer.
func (a *App) Run(ctx context.Context) error {
	a.runMu.Lock()
	if a.running {
		a.runMu.Unlock()
		return errors.New("app: already running")
	}
	a.running = true
	a.runMu.Unlock()

	var pub storage.Publisher
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	if a.cfg.NATS != nil {
		bus, err := a.newBus(ctx)
		if err != nil {
			return err
		}
		pub = bus
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := bus.consume(ctx); err != nil && ctx.Err() == nil {
				errc <- err
			}
		}()
	}
	err := a.kit.Background(ctx, rewardkit.BackgroundOptions{
		Tenants: a.cfg.Tenants, Publisher: pub, Interval: a.cfg.BackgroundInterval,
		OnError: func(err error) { a.log.Warn("background round", "err", err.Error()) },
	})
	wg.Wait()
	select {
	case e := <-errc:
		return errors.Join(err, e)
	default:
		return err
	}
}
