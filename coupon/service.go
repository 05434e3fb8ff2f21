package coupon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rewardkit/rewardkit/internal/uuid7"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// Config wires a Service. Store and Tx are required; Outbox, Counters,
// Idempotency and Leases default to Tx when it implements them (the
// adapters' stores do), so that a memory or SQL store wires as
// Config{Store: s.Coupons(), Tx: s}.
type Config struct {
	Store       Store
	Tx          storage.Transactor
	Outbox      storage.OutboxStore
	Counters    storage.CounterStore
	Idempotency storage.IdempotencyStore
	Leases      storage.LeaseStore
	// Clock defaults to storage.SystemClock.
	Clock storage.Clock
	// Rules compiles template conditions; required only for templates
	// that have some.
	Rules *rules.Env
	// LockTTL is how long a lock lasts when LockRequest.Until is zero;
	// default 15 minutes.
	LockTTL time.Duration
	// Owner names this instance in the sweep leases; default a random ID.
	Owner string
	// SweepLeaseTTL bounds one sweep round; default 1 minute.
	SweepLeaseTTL time.Duration
	// NewID returns IDs for coupons and audit entries; default UUIDv7 from
	// a buffered crypto/rand source.
	NewID func() string
	// TemplateCacheTTL is how long a Service keeps a template it read for
	// Claim, Lock or Usable before reading it again; default
	// DefaultTemplateCacheTTL, and a negative value turns the cache off.
	// Templates are immutable once created, so a cached copy differs from
	// the stored one only when the host rewrote or deleted the row behind
	// the library's back; those commands then follow the old definition
	// (validity, conditions, limits) for at most this long. It never lets
	// a claim or a lock pass that the database refuses: the stock,
	// per-user and per-order caps and the budget are conditional writes on
	// the stored counters. Only found templates are cached.
	TemplateCacheTTL time.Duration

	// Ledger keeps gift-card balances; without it the gift-card commands
	// return ErrNoLedger and gift-card templates cannot be issued. It must
	// run over the same database as Store and Tx, so that a claim and the
	// card's funding commit together.
	Ledger *ledger.Ledger
	// GiftCardIssuer is the ledger account a gift card's initial balance
	// comes from when the card is claimed or activated; default
	// ledger.World. Another account needs an overdraft policy that lets it
	// go below zero (ledger.UnboundedOverdraft), opened by the host.
	GiftCardIssuer string
}

func (c *Config) fill() {
	if c.Outbox == nil {
		c.Outbox, _ = c.Tx.(storage.OutboxStore)
	}
	if c.Counters == nil {
		c.Counters, _ = c.Tx.(storage.CounterStore)
	}
	if c.Idempotency == nil {
		c.Idempotency, _ = c.Tx.(storage.IdempotencyStore)
	}
	if c.Leases == nil {
		c.Leases, _ = c.Tx.(storage.LeaseStore)
	}
	if c.Clock == nil {
		c.Clock = storage.SystemClock{}
	}
	if c.LockTTL == 0 {
		c.LockTTL = 15 * time.Minute
	}
	if c.SweepLeaseTTL == 0 {
		c.SweepLeaseTTL = time.Minute
	}
	if c.Owner == "" {
		c.Owner = "coupon-" + uuid.NewString()
	}
	if c.GiftCardIssuer == "" {
		c.GiftCardIssuer = ledger.World
	}
	if c.TemplateCacheTTL == 0 {
		c.TemplateCacheTTL = DefaultTemplateCacheTTL
	}
}

// DefaultTemplateCacheTTL is Config.TemplateCacheTTL's default.
const DefaultTemplateCacheTTL = 2 * time.Second

// Validate reports every missing part (after the defaults are filled in).
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("coupon: config needs a Store"))
	}
	if c.Tx == nil {
		errs = append(errs, errors.New("coupon: config needs a Transactor (Tx)"))
	} else {
		c.fill()
	}
	if c.Outbox == nil {
		errs = append(errs, errors.New("coupon: config needs an Outbox"))
	}
	if c.Counters == nil {
		errs = append(errs, errors.New("coupon: config needs Counters"))
	}
	if c.Idempotency == nil {
		errs = append(errs, errors.New("coupon: config needs an Idempotency store"))
	}
	if c.Leases == nil {
		errs = append(errs, errors.New("coupon: config needs Leases"))
	}
	if c.LockTTL < 0 || c.SweepLeaseTTL < 0 {
		errs = append(errs, errors.New("coupon: durations must not be negative"))
	}
	if c.GiftCardIssuer != "" {
		if err := ledger.ValidateAccountID(c.GiftCardIssuer); err != nil {
			errs = append(errs, fmt.Errorf("coupon: gift card issuer: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Service runs coupon templates, issuance and the coupon lifecycle over a
// Store. It is safe for concurrent use, also by many host instances over
// one database: every invariant (stock, caps, budgets, one lock per
// coupon) is enforced by the database's conditional writes, not by locks
// in this process.
type Service struct {
	cfg      Config
	store    Store
	tx       storage.Transactor
	counters storage.CounterStore
	clock    storage.Clock
	ledger   *ledger.Ledger
	// life is the lifecycle's transition table, read once from the fsm
	// declaration.
	life     lifecycle
	customID func() string // Config.NewID; nil: UUIDv7s from ids
	ids      uuid7.Source

	// compiled caches each template's compiled conditions and time zone:
	// a cache of pure derived data, never a guard of an invariant.
	compiled sync.Map // tplKey -> *compiledTemplate
	// templates caches the templates Claim, Lock and Usable read, for
	// Config.TemplateCacheTTL (see there why that is safe).
	templates sync.Map // tplKey -> *templateEntry
}

// New returns a Service, or the problems of cfg.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.fill()
	s := &Service{cfg: cfg, store: cfg.Store, tx: cfg.Tx, counters: cfg.Counters, clock: cfg.Clock, ledger: cfg.Ledger,
		life: newLifecycle(), customID: cfg.NewID}
	return s, nil
}

type tplKey struct {
	tenant storage.TenantID
	id     string
}

type compiledTemplate struct {
	conds []Condition // what was compiled, to notice a different template under the same ID
	rules []*rules.CELRule
	loc   *time.Location
	// issuedKey is the template's stock counter; stock and perUser bound
	// it and the per-user counters (made once: storage.AtMost allocates).
	issuedKey        string
	stock, perUser   storage.Bounds
	stockN, perUserN int64
	userPrefix       string // userKey(id, "")
}

// userKey is the per-user counter key of user (userKey(template, user)).
func (c *compiledTemplate) userKey(user string) string { return c.userPrefix + user }

// newID returns a new ID: Config.NewID's, or a UUIDv7.
func (s *Service) newID() string {
	if s.customID != nil {
		return s.customID()
	}
	return s.ids.String()
}

// newIDs returns two new IDs (a coupon's and its audit entry's); the
// default source makes both with one allocation.
func (s *Service) newIDs() (string, string) {
	if s.customID == nil {
		var buf [2 * uuid7.TextLen]byte
		both := string(s.ids.Append(s.ids.Append(buf[:0])))
		return both[:uuid7.TextLen], both[uuid7.TextLen:]
	}
	return s.newID(), s.newID()
}

// templateEntry is a template read for Claim, Lock or Usable, kept until
// expires. The Template is shared by every command that reads it: never
// modified.
type templateEntry struct {
	t       *Template
	comp    *compiledTemplate
	expires time.Time // on the monotonic clock: the host's Clock may stand still
}

// cachedTemplate returns a template and its compiled form for Claim,
// Lock and Usable: from the cache while fresh, else read (and cached).
// The Template returned is shared and must not be modified.
func (s *Service) cachedTemplate(ctx context.Context, tenant storage.TenantID, id string) (*Template, *compiledTemplate, error) {
	ttl := s.cfg.TemplateCacheTTL
	k := tplKey{tenant, id}
	if ttl > 0 {
		if v, ok := s.templates.Load(k); ok {
			if e := v.(*templateEntry); time.Now().Before(e.expires) {
				return e.t, e.comp, nil
			}
		}
	}
	t, comp, err := s.template(ctx, tenant, id)
	if err != nil {
		return nil, nil, err
	}
	if ttl > 0 {
		s.templates.Store(k, &templateEntry{t: &t, comp: comp, expires: time.Now().Add(ttl)})
	}
	return &t, comp, nil
}

// has reports whether some condition applies at phase p.
func (c *compiledTemplate) has(p Phase) bool {
	for _, cond := range c.conds {
		if cond.appliesAt(p) {
			return true
		}
	}
	return false
}

// compile returns t's compiled conditions and location.
func (s *Service) compile(t *Template) (*compiledTemplate, error) {
	k := tplKey{t.Tenant, t.ID}
	if v, ok := s.compiled.Load(k); ok {
		c := v.(*compiledTemplate)
		if slices.Equal(c.conds, t.Conditions) && c.stockN == t.Limits.Stock && c.perUserN == t.Limits.PerUser {
			return c, nil
		}
	}
	loc, err := t.Validity.Location()
	if err != nil {
		return nil, err
	}
	c := &compiledTemplate{conds: slices.Clone(t.Conditions), loc: loc, issuedKey: issuedKey(t.ID),
		stockN: t.Limits.Stock, perUserN: t.Limits.PerUser, userPrefix: userKey(t.ID, "")}
	if t.Limits.Stock > 0 {
		c.stock = storage.AtMost(t.Limits.Stock)
	}
	if t.Limits.PerUser > 0 {
		c.perUser = storage.AtMost(t.Limits.PerUser)
	}
	if len(t.Conditions) > 0 && s.cfg.Rules == nil {
		return nil, fmt.Errorf("%w: template %s has conditions but the service has no rules.Env", ErrInvalidTemplate, t.ID)
	}
	for _, cond := range t.Conditions {
		var opts []rules.RuleOption
		if cond.Reason != "" {
			opts = append(opts, rules.Reason(cond.Reason))
		}
		r, err := s.cfg.Rules.Compile(cond.Name, cond.Expr, opts...)
		if err != nil {
			return nil, fmt.Errorf("%w: condition %q: %w", ErrInvalidTemplate, cond.Name, err)
		}
		c.rules = append(c.rules, r)
	}
	s.compiled.Store(k, c)
	return c, nil
}

// check evaluates the conditions of phase p on f; a *ConditionError when
// some fail.
func (c *compiledTemplate) check(ctx context.Context, templateID string, p Phase, f *rules.Facts) error {
	var failed []FailedCondition
	for i, r := range c.rules {
		if !c.conds[i].appliesAt(p) {
			continue
		}
		res := r.Evaluate(ctx, f)
		if !res.Passed {
			failed = append(failed, FailedCondition{Name: r.Name(), Reason: res.Reason})
		}
	}
	if failed != nil {
		return &ConditionError{TemplateID: templateID, Failed: failed}
	}
	return nil
}

// template reads and compiles a template.
func (s *Service) template(ctx context.Context, tenant storage.TenantID, id string) (Template, *compiledTemplate, error) {
	t, err := s.store.Template(ctx, tenant, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Template{}, nil, fmt.Errorf("%w: %s: %w", ErrUnknownTemplate, id, err)
		}
		return Template{}, nil, err
	}
	c, err := s.compile(&t)
	if err != nil {
		return Template{}, nil, err
	}
	return t, c, nil
}

// CreateTemplate validates t, compiles its conditions and stores it,
// stamping CreatedAt. Errors: ErrInvalidTemplate (with every problem),
// storage.ErrDuplicate when the ID exists.
func (s *Service) CreateTemplate(ctx context.Context, t Template) (Template, error) {
	if err := t.Validate(); err != nil {
		return Template{}, err
	}
	t.Conditions = slices.Clone(t.Conditions)
	s.compiled.Delete(tplKey{t.Tenant, t.ID})
	s.templates.Delete(tplKey{t.Tenant, t.ID})
	if _, err := s.compile(&t); err != nil {
		return Template{}, err
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.clock.Now()
	}
	if t.Refund == "" {
		t.Refund = RefundBurn
	}
	if err := s.store.CreateTemplate(ctx, t); err != nil {
		return Template{}, fmt.Errorf("coupon: create template %s: %w", t.ID, err)
	}
	return t, nil
}

// Template returns a stored template. Errors: ErrUnknownTemplate.
func (s *Service) Template(ctx context.Context, tenant storage.TenantID, id string) (Template, error) {
	t, _, err := s.template(ctx, tenant, id)
	return t, err
}

// change is what goes to the audit trail and the outbox for one transition.
type change struct {
	ev     Event
	actor  string
	reason string
}

// apply moves c through ev inside the transaction in ctx: the FSM decides
// the new state, mutate adjusts the other fields, the store writes it
// conditionally on (ID, state, version), and the audit trail and outbox
// get the transition. On error c must be dropped.
func (s *Service) apply(ctx context.Context, c *Coupon, ch change, mutate func(c *Coupon)) error {
	to, err := s.life.next(c.ID, c.State, c.FrozenFrom, ch.ev)
	if err != nil {
		return err
	}
	from, version := c.State, c.Version
	if mutate != nil {
		mutate(c)
	}
	c.State = to
	c.Version++
	c.UpdatedAt = s.clock.Now()
	return s.write(ctx, c, from, version, ch)
}

// write stores the transition of c (already moved) from state from at
// version: through the store's one-step path when it has one, else as
// the conditional update, the audit entry and the outbox message.
func (s *Service) write(ctx context.Context, c *Coupon, from State, version int64, ch change) error {
	e := s.entry(c, from, c.State, ch)
	m := s.message(&e)
	if w, ok := s.store.(transitionWriter); ok {
		handled, updated, err := w.WriteTransition(ctx, s.cfg.Outbox, *c, from, version, e, m)
		if handled {
			if err != nil && !updated {
				return fmt.Errorf("coupon %s: %s: %w", c.ID, ch.ev, err)
			}
			return err
		}
	}
	if err := s.store.UpdateCoupon(ctx, *c, from, version); err != nil {
		return fmt.Errorf("coupon %s: %s: %w", c.ID, ch.ev, err)
	}
	if err := s.store.AppendAudit(ctx, e); err != nil {
		return err
	}
	return s.cfg.Outbox.AppendOutbox(ctx, m)
}

// transitionWriter is an optional fast path of a Store for one
// transition: WriteTransition does what UpdateCoupon(c, prevState,
// prevVersion), AppendAudit(e) and outbox.AppendOutbox(m) do, as one step
// in the transaction in ctx (memory: one step under the store's lock,
// with one undo), and leaves nothing written on error. It returns handled
// false, having done nothing, when it cannot serve the call (an outbox
// that is not its own); updated false with UpdateCoupon's errors when the
// conditional write failed. Like claimWriter it is not part of Store.
type transitionWriter interface {
	WriteTransition(ctx context.Context, outbox storage.OutboxStore, c Coupon, prevState State, prevVersion int64,
		e AuditEntry, m storage.Message) (handled, updated bool, err error)
}

// entry is the audit entry of one transition of c.
func (s *Service) entry(c *Coupon, from, to State, ch change) AuditEntry {
	return AuditEntry{
		Tenant: c.Tenant, EventID: s.newID(), CouponID: c.ID, TemplateID: c.TemplateID, UserID: c.UserID,
		Event: ch.ev, From: from, To: to, Actor: ch.actor, Reason: ch.reason, OrderID: c.OrderID, At: c.UpdatedAt,
	}
}

// message is the outbox message of an audit entry.
func (s *Service) message(e *AuditEntry) storage.Message {
	return storage.Message{
		EventID: e.EventID, Tenant: e.Tenant, Topic: topicOf(e.Event), AggregateType: "coupon",
		AggregateID: e.CouponID, Payload: appendAuditJSON(make([]byte, 0, auditJSONSize(e)), e), CreatedAt: e.At,
	}
}

// auditJSONSize is room for e's JSON: its keys and punctuation, its
// time, and its strings (unless they need escapes), so that the payload
// takes one allocation.
func auditJSONSize(e *AuditEntry) int {
	return 192 + len(e.Tenant) + len(e.EventID) + len(e.CouponID) + len(e.TemplateID) + len(e.UserID) + len(e.Event) + len(e.From) +
		len(e.To) + len(e.Actor) + len(e.Reason) + len(e.OrderID)
}

// topicOf returns the outbox topic of a lifecycle event ("coupon.lock").
func topicOf(ev Event) string {
	switch ev { // constant strings for the common ones: no allocation
	case EventClaim:
		return "coupon.claim"
	case EventActivate:
		return "coupon.activate"
	case EventLock:
		return "coupon.lock"
	case EventUse:
		return "coupon.use"
	case EventRelease:
		return "coupon.release"
	}
	return "coupon." + string(ev)
}

// coupon reads a coupon, mapping not-found to ErrUnknownCoupon.
func (s *Service) coupon(ctx context.Context, tenant storage.TenantID, id string) (Coupon, error) {
	c, err := s.store.Coupon(ctx, tenant, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Coupon{}, fmt.Errorf("%w: %s: %w", ErrUnknownCoupon, id, err)
		}
		return Coupon{}, err
	}
	return c, nil
}

// Coupon returns a coupon as stored, except that an ACTIVATED coupon past
// its validity reads as EXPIRED. Errors: ErrUnknownCoupon.
func (s *Service) Coupon(ctx context.Context, tenant storage.TenantID, id string) (Coupon, error) {
	c, err := s.coupon(ctx, tenant, id)
	if err != nil {
		return Coupon{}, err
	}
	return seen(c, s.clock.Now()), nil
}

// CouponByCode returns the coupon carrying code, as Coupon does (an
// ACTIVATED coupon past its validity reads as EXPIRED). The code is taken
// as typed: separators and case do not matter, and it is parsed and its
// check character verified before any lookup. Errors:
// storage.ErrInvalidTenant; ErrMalformedCode; ErrBadCheckCharacter (a
// typo; also ErrMalformedCode); ErrUnknownCode (well formed, but no coupon
// carries it); the store's.
func (s *Service) CouponByCode(ctx context.Context, tenant storage.TenantID, code string) (Coupon, error) {
	if err := tenant.Validate(); err != nil {
		return Coupon{}, err
	}
	canon, err := ParseCode(code)
	if err != nil {
		return Coupon{}, err
	}
	c, err := s.store.CouponByCode(ctx, tenant, canon)
	if errors.Is(err, storage.ErrNotFound) {
		return Coupon{}, fmt.Errorf("%w: %s", ErrUnknownCode, FormatCode(canon))
	}
	if err != nil {
		return Coupon{}, err
	}
	return seen(c, s.clock.Now()), nil
}

// Audit returns a coupon's audit trail, oldest first.
func (s *Service) Audit(ctx context.Context, tenant storage.TenantID, couponID string) ([]AuditEntry, error) {
	return s.store.Audit(ctx, tenant, couponID)
}

// seen is the coupon as a reader sees it at now: expired on read.
func seen(c Coupon, now time.Time) Coupon {
	if c.State == StateActivated && c.expiredAt(now) {
		c.State = StateExpired
	}
	return c
}

func (c Coupon) expiredAt(now time.Time) bool {
	return !c.ValidUntil.IsZero() && !now.Before(c.ValidUntil)
}

// counter keys, per template.
func issuedKey(tpl string) string       { return "coupon/" + tpl + "/issued" }
func budgetKey(tpl string) string       { return "coupon/" + tpl + "/budget" }
func userKey(tpl, user string) string   { return "coupon/" + tpl + "/user/" + user }
func orderKey(tpl, order string) string { return "coupon/" + tpl + "/order/" + order }
func defaulted(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
