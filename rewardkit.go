package rewardkit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

// Store is what the facade needs from a storage adapter: the port's
// transactions, idempotency, outbox, leases and counters, and every domain's
// store. storage/memory and storage/sqlstore implement it.
type Store interface {
	storage.Transactor
	storage.IdempotencyStore
	storage.OutboxStore
	storage.LeaseStore
	storage.CounterStore
	Ledger() ledger.Store
	Coupons() coupon.Store
	Risk() risk.Store
	Settlement() settlement.Store
	Rewards() reward.Store
	Loyalty() reward.LoyaltyStore
}

// Config wires a Kit. Only Store is required.
type Config struct {
	Store Store
	// Clock tells the time everywhere; default storage.SystemClock.
	Clock storage.Clock
	// Assets resolves the codes of ISO currencies plus the host's own
	// assets (POINTS, ...). Nil: ISO currencies only.
	Assets *money.Registry
	// RiskPolicies are the risk controls kit.Risk enforces.
	RiskPolicies []risk.Policy
	// Instance names this host instance in leases; default a random ID.
	Instance string
	// GiftCardIssuer is the ledger account gift-card balances come from;
	// default ledger.World.
	GiftCardIssuer string
	// ExpiryAccount receives expired point lots; default ledger.World.
	ExpiryAccount string
	// Split is the clearing split of completed orders between parties
	// (e.g. platform 10%, merchant 85%, channel 5%); default the merchant
	// takes all.
	Split []settlement.Share
	// Cycles say when each party is settled (T+1, T+3, monthly); default
	// T+1 for every party.
	Cycles []settlement.Cycle
	// TimeZone returns the IANA time zone of a tenant's settlement days;
	// nil means UTC.
	TimeZone func(storage.TenantID) string
	// Review holds a new settlement statement for review when it says so.
	Review settlement.ReviewFunc
	// PayTTL is how long a created order waits for payment; default 15m.
	PayTTL time.Duration
	// RewardAwarder gives and takes back campaign awards. Default: points
	// and cash through the ledger (paid from AwardSource) and coupons
	// through kit.Coupons.
	RewardAwarder reward.Awarder
	// AwardSource is the ledger account campaign awards are paid from,
	// e.g. "campaign:{campaign}:budget"; default ledger.World.
	AwardSource string
	// Loyalty, when set, runs a loyalty program (points asset, tiers,
	// earning rules, offers) as kit.Loyalty; the facade fills in its
	// store, ledger, coupons, clock and rules. Register its points asset
	// in Assets.
	Loyalty *reward.LoyaltyConfig
	// EventTypes and ReverseTypes add the host's own event types to the
	// reward engine's built-in ones.
	EventTypes   []reward.EventType
	ReverseTypes []reward.EventType
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("rewardkit: Config.Store is required"))
	}
	for i, p := range c.RiskPolicies {
		if p == nil {
			errs = append(errs, fmt.Errorf("rewardkit: RiskPolicies[%d] is nil", i))
		}
	}
	return errors.Join(errs...)
}

// Kit is rewardkit wired over one store: the services a host calls.
type Kit struct {
	Store   Store
	Clock   storage.Clock
	Rules   *rules.Env
	Risk    *risk.Engine
	Ledger  *ledger.Ledger
	Coupons *coupon.Service
	Orders  *settlement.Service
	Rewards *reward.Engine
	Loyalty *reward.Loyalty // nil unless Config.Loyalty is set

	instance string
}

// New wires every service over cfg.Store. It returns the joined
// configuration errors of the services it builds.
func New(cfg Config) (*Kit, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	clock := cfg.Clock
	if clock == nil {
		clock = storage.SystemClock{}
	}
	instance := cfg.Instance
	if instance == "" {
		instance = randomInstance()
	}
	env, err := rules.NewEnv()
	if err != nil {
		return nil, fmt.Errorf("rewardkit: rules: %w", err)
	}
	led, err := ledger.New(ledger.Config{Store: cfg.Store.Ledger(), Tx: cfg.Store, Clock: clock, Assets: cfg.Assets, ExpiryAccount: cfg.ExpiryAccount})
	if err != nil {
		return nil, fmt.Errorf("rewardkit: ledger: %w", err)
	}
	rsk, err := risk.New(risk.Config{Store: cfg.Store.Risk(), Clock: clock, Tx: cfg.Store, Policies: cfg.RiskPolicies})
	if err != nil {
		return nil, fmt.Errorf("rewardkit: risk: %w", err)
	}
	cpn, err := coupon.New(coupon.Config{
		Store: cfg.Store.Coupons(), Tx: cfg.Store, Clock: clock, Rules: env, Ledger: led,
		Owner: instance, GiftCardIssuer: cfg.GiftCardIssuer,
	})
	if err != nil {
		return nil, fmt.Errorf("rewardkit: coupon: %w", err)
	}
	orders, err := settlement.New(settlement.Config{
		Store: cfg.Store.Settlement(), Tx: cfg.Store, Ledger: led, Coupons: cpn, CouponStore: cfg.Store.Coupons(),
		Clock: clock, Split: cfg.Split, Cycles: cfg.Cycles, TimeZone: cfg.TimeZone, Review: cfg.Review,
		PayTTL: cfg.PayTTL, Owner: instance,
	})
	if err != nil {
		return nil, fmt.Errorf("rewardkit: settlement: %w", err)
	}
	awarder := cfg.RewardAwarder
	if awarder == nil {
		la, err := reward.NewLedgerAwarder(reward.LedgerAwarderConfig{Ledger: led, Source: cfg.AwardSource, Clock: clock, Outbox: cfg.Store})
		if err != nil {
			return nil, fmt.Errorf("rewardkit: reward awarder: %w", err)
		}
		ca, err := reward.NewCouponAwarder(cpn)
		if err != nil {
			return nil, fmt.Errorf("rewardkit: reward awarder: %w", err)
		}
		awarder = reward.Awarders{reward.AwardPoints: la, reward.AwardCash: la, reward.AwardCoupon: ca}
	}
	rwd, err := reward.New(reward.Config{
		Store: cfg.Store.Rewards(), Tx: cfg.Store, Awarder: awarder, Clock: clock, Rules: env,
		EventTypes: cfg.EventTypes, ReverseTypes: cfg.ReverseTypes,
	})
	if err != nil {
		return nil, fmt.Errorf("rewardkit: reward: %w", err)
	}
	var loyalty *reward.Loyalty
	if cfg.Loyalty != nil {
		lc := *cfg.Loyalty
		lc.Store, lc.Tx, lc.Ledger, lc.Coupons, lc.Clock, lc.Rules = cfg.Store.Loyalty(), cfg.Store, led, cpn, clock, env
		if lc.Owner == "" {
			lc.Owner = instance
		}
		if loyalty, err = reward.NewLoyalty(lc); err != nil {
			return nil, fmt.Errorf("rewardkit: loyalty: %w", err)
		}
	}
	return &Kit{Store: cfg.Store, Clock: clock, Rules: env, Risk: rsk, Ledger: led, Coupons: cpn, Orders: orders, Rewards: rwd, Loyalty: loyalty, instance: instance}, nil
}

// Relay returns an outbox relay that hands this store's events to pub. Run
// one per host instance (kit.Background does); leases keep them from
// delivering one partition twice at once.
func (k *Kit) Relay(pub storage.Publisher) *storage.Relay {
	return &storage.Relay{Outbox: k.Store, Leases: k.Store, Publisher: pub, Clock: k.Clock, Owner: k.instance}
}

// BackgroundOptions configure Background.
type BackgroundOptions struct {
	// Tenants whose sweeps to run. Required for sweeps: background work
	// spans only the tenants the host names.
	Tenants []storage.TenantID
	// Publisher receives outbox events; nil skips the relay.
	Publisher storage.Publisher
	// Interval between rounds; default 1s.
	Interval time.Duration
	// Batch bounds each sweep round; default 500.
	Batch int
	// OnError receives errors of a round; nil drops them.
	OnError func(error)
}

// Background runs the housekeeping every host instance should run until
// ctx is done: coupon expiry, release of timed-out coupon locks, expiry of
// point lots, cancellation of unpaid orders, loyalty tier re-evaluation,
// and the outbox relay.
// Settlement cycles are the host's to schedule (kit.Orders.RunCycles), since
// when to cut statements is a business decision. Each piece runs under a lease (or is
// idempotent), so every instance may run it. It returns when ctx is done.
func (k *Kit) Background(ctx context.Context, opts BackgroundOptions) error {
	interval := opts.Interval
	if interval <= 0 {
		interval = time.Second
	}
	batch := opts.Batch
	if batch <= 0 {
		batch = 500
	}
	report := func(err error) {
		if err != nil && opts.OnError != nil && ctx.Err() == nil {
			opts.OnError(err)
		}
	}
	var relay *storage.Relay
	if opts.Publisher != nil {
		relay = k.Relay(opts.Publisher)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		k.round(ctx, opts.Tenants, batch, relay, report)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (k *Kit) round(ctx context.Context, tenants []storage.TenantID, batch int, relay *storage.Relay, report func(error)) {
	for _, tenant := range tenants {
		_, err := k.Coupons.ReleaseExpiredLocks(ctx, tenant, batch)
		report(err)
		_, err = k.Coupons.ExpireSweep(ctx, tenant, batch)
		report(err)
		_, err = k.Ledger.SweepExpired(ctx, tenant, k.Clock.Now(), batch)
		report(err)
		_, err = k.Orders.CancelExpired(ctx, tenant, batch)
		report(err)
		if k.Loyalty != nil {
			_, err = k.Loyalty.EvaluateTiers(ctx, tenant, batch)
			report(err)
		}
	}
	if relay != nil {
		_, err := relay.RunOnce(ctx)
		report(err)
	}
}
