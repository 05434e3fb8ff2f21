package risk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rewardkit/rewardkit/storage"
)

// Config configures an Engine.
type Config struct {
	// Store keeps counters and deny lists. Required.
	Store Store
	// Clock tells the time of actions without one and of deny-list
	// changes. Default storage.SystemClock.
	Clock storage.Clock
	// Tx, when set, makes Check run its store calls in one transaction
	// (joining the caller's, if ctx holds one), so that a failing call
	// leaves no partial counts behind. Without it each call stands alone
	// unless the caller's ctx holds a transaction.
	Tx storage.Transactor
	// Policies are evaluated in this order; reasons follow it. Names must
	// be unique.
	Policies []Policy
}

// Validate reports every problem of c, joined: ErrInvalidConfig for a
// missing store, ErrInvalidPolicy (and ErrInvalidConfig) for each bad or
// duplicate policy.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: no store", ErrInvalidConfig))
	}
	seen := make(map[string]bool, len(c.Policies))
	for i, p := range c.Policies {
		if isNil(p) {
			errs = append(errs, fmt.Errorf("%w: %w: policy %d is nil", ErrInvalidConfig, ErrInvalidPolicy, i))
			continue
		}
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidConfig, err))
		}
		name, _, _ := p.head()
		if seen[name] {
			errs = append(errs, fmt.Errorf("%w: %w: two policies named %q", ErrInvalidConfig, ErrInvalidPolicy, name))
		}
		seen[name] = true
	}
	return errors.Join(errs...)
}

func isNil(p Policy) bool {
	switch p := p.(type) {
	case nil:
		return true
	case *Velocity:
		return p == nil
	case *DenyList:
		return p == nil
	case *Threshold:
		return p == nil
	}
	return false
}

// Engine judges actions against a fixed set of policies. It holds no
// mutable state of its own: counters and lists live in the Store, so any
// number of engines (one per host instance) over one database enforce the
// same limits. It is safe for concurrent use.
type Engine struct {
	store    Store
	clock    storage.Clock
	tx       storage.Transactor
	policies []compiled
	hasDeny  bool
}

// compiled is a validated policy with what evaluation needs precomputed.
type compiled struct {
	name    string
	kinds   []string
	outcome Outcome
	vel     *Velocity
	deny    *DenyList
	thr     *Threshold
	prefix  string // velocity bucket key prefix: name/window/
	windowM int64  // velocity window in milliseconds
}

// New returns an engine for c. Errors: those of Config.Validate.
func New(c Config) (*Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{store: c.Store, clock: c.Clock, tx: c.Tx}
	if e.clock == nil {
		e.clock = storage.SystemClock{}
	}
	for _, p := range c.Policies {
		name, kinds, outcome := p.head()
		cp := compiled{name: name, kinds: append([]string(nil), kinds...), outcome: outcome}
		switch p := p.(type) {
		case Velocity:
			cp.vel = &p
		case *Velocity:
			v := *p
			cp.vel = &v
		case DenyList:
			p.Lists = append([]Subject(nil), p.Lists...)
			cp.deny = &p
		case *DenyList:
			d := *p
			d.Lists = append([]Subject(nil), d.Lists...)
			cp.deny = &d
		case Threshold:
			p.Min = append(p.Min[:0:0], p.Min...)
			cp.thr = &p
		case *Threshold:
			t := *p
			t.Min = append(t.Min[:0:0], t.Min...)
			cp.thr = &t
		}
		if cp.vel != nil {
			cp.windowM = cp.vel.Window.Milliseconds()
			cp.prefix = name + "/" + cp.vel.Window.String() + "/"
		}
		e.hasDeny = e.hasDeny || cp.deny != nil
		e.policies = append(e.policies, cp)
	}
	return e, nil
}

// Check judges the action and counts it against every velocity policy
// that applies to it (see Velocity for what counts). It returns the
// decision; the host carries it out (refuses, freezes, holds for review).
// Errors: storage.ErrInvalidTenant; ErrInvalidAction for a malformed
// action, a custom velocity key longer than MaxValueLen or an amount in a
// currency a threshold does not cover (then nothing is counted); store
// errors, wrapped (storage.ErrLockTimeout, storage.ErrSerialization, ...).
func (e *Engine) Check(ctx context.Context, tenant storage.TenantID, a Action) (Decision, error) {
	return e.run(ctx, tenant, a, true)
}

// Assess is a dry run of Check: it judges the action as Check would at
// this moment, but counts nothing. A velocity policy fires in Assess when
// its window is already full, that is when Check would fire. Errors: as
// Check.
func (e *Engine) Assess(ctx context.Context, tenant storage.TenantID, a Action) (Decision, error) {
	return e.run(ctx, tenant, a, false)
}

// plan is what Check decided before touching the store.
type plan struct {
	at      time.Time
	buckets []Bucket // per policy; Key "" when not counted
	fired   []string // per policy: threshold detail, "" when not fired
	keys    []DenyKey
}

func (e *Engine) run(ctx context.Context, tenant storage.TenantID, a Action, count bool) (Decision, error) {
	if err := tenant.Validate(); err != nil {
		return Decision{}, err
	}
	p, err := e.plan(a)
	if err != nil {
		return Decision{}, err
	}
	var d Decision
	eval := func(ctx context.Context) error {
		d = Decision{}
		return e.eval(ctx, tenant, a, p, count, &d)
	}
	if count && e.tx != nil {
		err = e.tx.InTx(ctx, eval)
	} else {
		err = eval(ctx)
	}
	if err != nil {
		return Decision{}, err
	}
	return d, nil
}

// plan validates the action and works out, without the store, which
// buckets to count, which thresholds fire and which deny keys to look up.
func (e *Engine) plan(a Action) (plan, error) {
	if err := a.Validate(); err != nil {
		return plan{}, err
	}
	p := plan{at: a.At}
	if p.at.IsZero() {
		p.at = e.clock.Now()
	}
	p.at = p.at.UTC()
	for i := range e.policies {
		c := &e.policies[i]
		if !applies(c.kinds, a.Kind) {
			continue
		}
		switch {
		case c.vel != nil:
			v := ""
			if c.vel.Key != nil {
				v = c.vel.Key(a)
				if len(v) > MaxValueLen {
					return plan{}, fmt.Errorf("%w: policy %q built a key of %d bytes, more than %d", ErrInvalidAction, c.name, len(v), MaxValueLen)
				}
			} else {
				v = a.Subject(c.vel.By)
			}
			if v == "" {
				continue
			}
			if p.buckets == nil {
				p.buckets = make([]Bucket, len(e.policies))
			}
			ms := p.at.UnixMilli()
			start := ms - ms%c.windowM
			p.buckets[i] = Bucket{Key: c.prefix + v, Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(start + c.windowM).UTC()}
		case c.thr != nil:
			if a.Amount.Currency().IsZero() {
				continue
			}
			m, ok := c.thr.min(a.Amount.Currency())
			if !ok {
				return plan{}, fmt.Errorf("%w: policy %q has no minimum in %s", ErrInvalidAction, c.name, a.Amount.Currency())
			}
			if cmp, _ := a.Amount.Cmp(m); cmp >= 0 {
				if p.fired == nil {
					p.fired = make([]string, len(e.policies))
				}
				p.fired[i] = "amount " + a.Amount.String() + " is at least " + m.String()
			}
		case c.deny != nil:
			for _, l := range c.deny.Lists {
				if v := a.Subject(l); v != "" {
					k := DenyKey{List: l, Value: v}
					if !containsKey(p.keys, k) {
						p.keys = append(p.keys, k)
					}
				}
			}
		}
	}
	return p, nil
}

func containsKey(keys []DenyKey, k DenyKey) bool {
	for _, o := range keys {
		if o == k {
			return true
		}
	}
	return false
}

func (e *Engine) eval(ctx context.Context, tenant storage.TenantID, a Action, p plan, count bool, d *Decision) error {
	var listed []Entry
	if len(p.keys) > 0 {
		var err error
		listed, err = e.store.MatchDenyEntries(ctx, tenant, p.at, p.keys)
		if err != nil {
			return fmt.Errorf("risk: deny lists: %w", err)
		}
	}
	for i := range e.policies {
		c := &e.policies[i]
		switch {
		case c.vel != nil:
			if p.buckets == nil || p.buckets[i].Key == "" {
				continue
			}
			b := p.buckets[i]
			var fired bool
			if count {
				_, allowed, err := e.store.HitVelocity(ctx, tenant, b, c.vel.Limit)
				if err != nil {
					return fmt.Errorf("risk: policy %q: %w", c.name, err)
				}
				fired = !allowed
			} else {
				n, err := e.store.VelocityCount(ctx, tenant, b)
				if err != nil {
					return fmt.Errorf("risk: policy %q: %w", c.name, err)
				}
				fired = n >= c.vel.Limit
			}
			if fired {
				d.add(Reason{Policy: c.name, Outcome: c.outcome, Detail: c.velocityDetail()})
			}
		case c.thr != nil:
			if p.fired != nil && p.fired[i] != "" {
				d.add(Reason{Policy: c.name, Outcome: c.outcome, Detail: p.fired[i]})
			}
		case c.deny != nil:
			if !applies(c.kinds, a.Kind) {
				continue
			}
			var hits []string
			for _, en := range listed {
				if a.Subject(en.List) == en.Value && containsSubject(c.deny.Lists, en.List) {
					h := string(en.List) + " is on the deny list"
					if en.Reason != "" {
						h += " (" + en.Reason + ")"
					}
					hits = append(hits, h)
				}
			}
			if len(hits) > 0 {
				d.add(Reason{Policy: c.name, Outcome: c.outcome, Detail: strings.Join(hits, "; ")})
			}
		}
	}
	return nil
}

func containsSubject(s []Subject, x Subject) bool {
	for _, o := range s {
		if o == x {
			return true
		}
	}
	return false
}

// velocityDetail says what the velocity policy limits; it names no
// subject value (IPs and phones stay out of logs).
func (c *compiled) velocityDetail() string {
	what := "actions"
	if len(c.kinds) > 0 {
		what = strings.Join(c.kinds, "/")
	}
	by := string(c.vel.By)
	if c.vel.Key != nil {
		by = "key"
	}
	return "more than " + strconv.FormatInt(c.vel.Limit, 10) + " " + what + " per " + by + " in " + c.vel.Window.String()
}

// Deny puts a value on the tenant's deny list, or replaces its entry. A
// zero CreatedAt is set from the clock; times are kept in UTC to the
// microsecond (what every store can hold). Errors:
// storage.ErrInvalidTenant, ErrInvalidEntry, store errors.
func (e *Engine) Deny(ctx context.Context, tenant storage.TenantID, en Entry) error {
	if err := tenant.Validate(); err != nil {
		return err
	}
	if en.CreatedAt.IsZero() {
		en.CreatedAt = e.clock.Now()
	}
	en.CreatedAt = micro(en.CreatedAt)
	if !en.ExpiresAt.IsZero() {
		en.ExpiresAt = micro(en.ExpiresAt)
	}
	if err := en.Validate(); err != nil {
		return err
	}
	if err := e.store.PutDenyEntry(ctx, tenant, en); err != nil {
		return fmt.Errorf("risk: deny %s: %w", en.List, err)
	}
	return nil
}

// Undeny takes a value off the tenant's deny list and reports whether it
// was there. Errors: storage.ErrInvalidTenant, ErrInvalidEntry, store
// errors.
func (e *Engine) Undeny(ctx context.Context, tenant storage.TenantID, list Subject, value string) (bool, error) {
	if err := tenant.Validate(); err != nil {
		return false, err
	}
	if err := (DenyKey{List: list, Value: value}).Validate(); err != nil {
		return false, err
	}
	ok, err := e.store.DeleteDenyEntry(ctx, tenant, list, value)
	if err != nil {
		return false, fmt.Errorf("risk: undeny %s: %w", list, err)
	}
	return ok, nil
}

// Denied returns the entry that puts value on the tenant's list, if one
// is in force now. Errors: storage.ErrInvalidTenant, ErrInvalidEntry,
// store errors.
func (e *Engine) Denied(ctx context.Context, tenant storage.TenantID, list Subject, value string) (Entry, bool, error) {
	if err := tenant.Validate(); err != nil {
		return Entry{}, false, err
	}
	k := DenyKey{List: list, Value: value}
	if err := k.Validate(); err != nil {
		return Entry{}, false, err
	}
	got, err := e.store.MatchDenyEntries(ctx, tenant, e.clock.Now().UTC(), []DenyKey{k})
	if err != nil {
		return Entry{}, false, fmt.Errorf("risk: deny lists: %w", err)
	}
	if len(got) == 0 {
		return Entry{}, false, nil
	}
	return got[0], true, nil
}

// Prune deletes, in every tenant, velocity buckets that ended at or
// before before and deny-list entries that expired at or before it, and
// returns how many records went. Run it from a periodic sweep (under a
// storage lease when several hosts share the database); keep before at
// least one window in the past of the longest policy. Errors: store
// errors.
func (e *Engine) Prune(ctx context.Context, before time.Time) (int64, error) {
	n, err := e.store.PruneRisk(ctx, before.UTC())
	if err != nil {
		return n, fmt.Errorf("risk: prune: %w", err)
	}
	return n, nil
}

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
