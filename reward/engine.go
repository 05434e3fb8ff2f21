package reward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// Config wires an Engine.
type Config struct {
	// Store keeps campaigns, events, progress and grants. Required.
	Store Store
	// Tx runs each event's work atomically; usually the same adapter as
	// Store. Required.
	Tx storage.Transactor
	// Awarder gives and takes back awards. Nil: grants are only recorded
	// in the Store (the host settles them from Grants).
	Awarder Awarder
	// Outbox receives a TopicGranted or TopicRevoked message for every
	// award given or taken back, in the event's transaction. Default: Tx
	// when it implements storage.OutboxStore (the adapters' stores do);
	// set NoOutbox to write none.
	Outbox   storage.OutboxStore
	NoOutbox bool
	// Clock stamps grants made outside an event (rank settlement).
	// Default storage.SystemClock.
	Clock storage.Clock
	// Rules compiles campaigns' eligibility rules. Default rules.NewEnv().
	Rules *rules.Env
	// EventTypes and ReverseTypes add custom forward and reverse event
	// types to the built-in ones.
	EventTypes   []EventType
	ReverseTypes []EventType
}

// Validate reports every missing field, each wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: Store is required", ErrInvalidConfig))
	}
	if c.Tx == nil {
		errs = append(errs, fmt.Errorf("%w: Tx is required", ErrInvalidConfig))
	}
	for _, t := range append(append([]EventType(nil), c.EventTypes...), c.ReverseTypes...) {
		if t == "" {
			errs = append(errs, fmt.Errorf("%w: empty custom event type", ErrInvalidConfig))
		}
	}
	return errors.Join(errs...)
}

// Engine runs incentive campaigns: it turns host events into flows,
// progress and awards. It holds no state of its own beyond a cache of
// compiled rules and a pool of working memory for events, so any number
// of Engines (in any number of host instances) may share one database. It
// is safe for concurrent use.
type Engine struct {
	store   Store
	tx      storage.Transactor
	awarder Awarder
	outbox  storage.OutboxStore
	clock   storage.Clock
	env     *rules.Env
	types   eventTypes
	custom  []EventType
	rev     []EventType

	compiled sync.Map  // compiledKey -> *compiled
	calls    sync.Pool // *handling: the working memory of Handle calls
}

type compiledKey struct {
	tenant  storage.TenantID
	id      string
	version int64
}

type compiled struct {
	set *rules.Set // nil: no rules
	// rulesKey is the JSON of the rule definitions: campaigns with the
	// same key judge an event alike ("" when it could not be written).
	rulesKey string
	allow    map[string]bool
	slots    []string // the grant slot of each tier: "tier/0", ...
}

// New returns an Engine. It returns ErrInvalidConfig for a bad Config.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{store: cfg.Store, tx: cfg.Tx, awarder: cfg.Awarder, clock: cfg.Clock, env: cfg.Rules,
		custom: cfg.EventTypes, rev: cfg.ReverseTypes}
	if e.clock == nil {
		e.clock = storage.SystemClock{}
	}
	if !cfg.NoOutbox {
		e.outbox = cfg.Outbox
		if e.outbox == nil {
			e.outbox, _ = cfg.Tx.(storage.OutboxStore)
		}
	}
	if e.env == nil {
		env, err := rules.NewEnv()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		e.env = env
	}
	e.types = eventTypes{forward: map[EventType]bool{}, reverse: map[EventType]bool{}}
	e.types.add(cfg.EventTypes, cfg.ReverseTypes)
	return e, nil
}

// compile returns c's compiled rules, from the cache when the version was
// seen before.
func (e *Engine) compile(tenant storage.TenantID, c *Campaign) (*compiled, error) {
	k := compiledKey{tenant, c.ID, c.Version}
	if v, ok := e.compiled.Load(k); ok {
		return v.(*compiled), nil
	}
	cc, err := e.build(c)
	if err != nil {
		return nil, err
	}
	e.compiled.Store(k, cc)
	if c.Version > 1 {
		e.compiled.Delete(compiledKey{tenant, c.ID, c.Version - 1})
	}
	return cc, nil
}

func (e *Engine) build(c *Campaign) (*compiled, error) {
	cc := &compiled{}
	if len(c.Rules) > 0 {
		set, err := e.env.Build(c.Rules...)
		if err != nil {
			return nil, fmt.Errorf("%w: campaign %q rules: %w", ErrInvalidCampaign, c.ID, err)
		}
		cc.set = set
		if key, err := json.Marshal(c.Rules); err == nil {
			cc.rulesKey = string(key)
		}
	}
	cc.slots = make([]string, len(c.Tiers))
	for i := range cc.slots {
		cc.slots[i] = tierSlot(i)
	}
	if len(c.Participants) > 0 {
		cc.allow = make(map[string]bool, len(c.Participants))
		for _, p := range c.Participants {
			cc.allow[p] = true
		}
	}
	return cc, nil
}

// PutCampaign validates c, compiles its rules and stores it. A new
// campaign has Version 0 and starts as a draft unless its Status says
// active; an existing one must carry the stored Version (optimistic
// concurrency) and must not be closed. It returns the stored campaign
// (Version increased by one).
//
// Errors: ErrInvalidCampaign (every problem joined, rule compile errors
// included), ErrCampaignState for a closed campaign or a status other than
// draft or active, storage.ErrConflict for a stale Version,
// storage.ErrInvalidTenant.
func (e *Engine) PutCampaign(ctx context.Context, tenant storage.TenantID, c Campaign) (Campaign, error) {
	if err := tenant.Validate(); err != nil {
		return Campaign{}, err
	}
	if c.Status == "" {
		c.Status = StatusDraft
	}
	if c.Status != StatusDraft && c.Status != StatusActive {
		return Campaign{}, fmt.Errorf("%w: a campaign is put as draft or active, not %q", ErrCampaignState, c.Status)
	}
	if c.Clawback == "" {
		c.Clawback = ClawbackNever
	}
	if c.Period == "" {
		c.Period = PeriodCampaign
	}
	if err := c.Validate(); err != nil {
		return Campaign{}, err
	}
	if _, err := e.build(&c); err != nil {
		return Campaign{}, err
	}
	c = c.Clone()
	var out Campaign
	err := e.tx.InTx(ctx, func(ctx context.Context) error {
		if c.Version > 0 {
			old, err := e.store.Campaign(ctx, tenant, c.ID)
			if err != nil {
				return err
			}
			if old.Status == StatusClosed {
				return fmt.Errorf("%w: campaign %q is closed", ErrCampaignState, c.ID)
			}
		}
		var err error
		out, err = e.store.PutCampaign(ctx, tenant, c)
		return err
	})
	return out, err
}

// Activate moves a draft campaign to active, from which on it counts
// events. Errors: ErrCampaignNotFound, ErrCampaignState when it is not a
// draft.
func (e *Engine) Activate(ctx context.Context, tenant storage.TenantID, id string) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	ok, err := e.store.SetCampaignStatus(ctx, tenant, id, StatusDraft, StatusActive)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: campaign %q is not a draft", ErrCampaignState, id)
	}
	return nil
}

// Campaign returns a stored campaign; ErrCampaignNotFound.
func (e *Engine) Campaign(ctx context.Context, tenant storage.TenantID, id string) (Campaign, error) {
	if err := tenant.Validate(); err != nil {
		return Campaign{}, err
	}
	return e.store.Campaign(ctx, tenant, id)
}

// Progress returns a participant's progress in a campaign period (period
// "" means the campaign's key for the whole campaign, "all"). Errors:
// ErrNoProgress, storage.ErrInvalidTenant.
func (e *Engine) Progress(ctx context.Context, tenant storage.TenantID, campaign, period, participant string) (Progress, error) {
	if err := tenant.Validate(); err != nil {
		return Progress{}, err
	}
	if period == "" {
		period = PeriodCampaign.Key(e.clock.Now())
	}
	return e.store.Progress(ctx, tenant, ProgressKey{Campaign: campaign, Period: period, Participant: participant})
}

// Grants returns a campaign's grants (awarded and clawed back), of one
// participant or, with participant "", of all, in every period when
// period is "".
func (e *Engine) Grants(ctx context.Context, tenant storage.TenantID, campaign, period, participant string) ([]Grant, error) {
	if err := tenant.Validate(); err != nil {
		return nil, err
	}
	return e.store.Grants(ctx, tenant, campaign, period, participant)
}
