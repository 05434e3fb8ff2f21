package reward

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// TierBasis is what a loyalty program's tiers are measured on.
type TierBasis string

const (
	// TierByLifetime ranks members by lifetime points: tiers only go up
	// (as long as accruals are not taken back).
	TierByLifetime TierBasis = "lifetime_points"
	// TierBySpend ranks members by qualifying spend over a rolling
	// window (LoyaltyConfig.TierWindow): a member whose spend falls
	// out of the window moves down at the next evaluation.
	TierBySpend TierBasis = "spend"
)

// TierRule is one tier: a member is in the highest tier whose Threshold
// the member's measure reaches. Threshold is in minor units of points
// (TierByLifetime) or of the program's currency (TierBySpend).
type TierRule struct {
	Name      string `json:"name"`
	Threshold int64  `json:"threshold"`
}

// EarningRule says how an accrual earns points. Every enabled rule whose
// window holds the accrual's time and whose Condition passes applies; the
// accrual earns
//
//	floor(spend × (sum of Rates) × (product of Multipliers)) + sum of Bonuses
//
// points, spend in major units of the program's currency, rounded down to
// the points asset's scale. So "1 point per unit" is a Rate of 1, "double
// points for gold" a Multiplier of 2 with the condition
// `user.tier == "gold"`, and "50 extra on app orders this week" a Bonus
// of 50 with a window. Rules load from JSON (ParseEarningRules).
type EarningRule struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Condition is a CEL expression over rules.Facts (order, user,
	// event, now, attrs); empty means always. The member is the user
	// (user.tier is the member's tier before this accrual), the accrual
	// the order and the event.
	Condition  string          `json:"condition,omitempty"`
	Rate       decimal.Decimal `json:"rate,omitzero"`
	Multiplier decimal.Decimal `json:"multiplier,omitzero"`
	Bonus      int64           `json:"bonus,omitempty"`
	// Start and End bound the accrual times the rule applies to: [Start,
	// End), zero for open.
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	Disabled bool      `json:"disabled,omitempty"`
}

// ParseEarningRules decodes a JSON array of earning rules, refusing
// unknown fields and trailing data. It checks their shape (see
// LoyaltyConfig.Validate for the rest). Errors wrap ErrInvalidConfig.
func ParseEarningRules(data []byte) ([]EarningRule, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var out []EarningRule
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("%w: earning rules: %w", ErrInvalidConfig, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: earning rules: trailing data", ErrInvalidConfig)
	}
	var errs []error
	for i, r := range out {
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("rule %d: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (r EarningRule) validate() error {
	var errs []error
	if r.ID == "" {
		errs = append(errs, fmt.Errorf("%w: earning rule without ID", ErrInvalidConfig))
	}
	if r.Rate.IsNegative() || r.Multiplier.IsNegative() || r.Bonus < 0 {
		errs = append(errs, fmt.Errorf("%w: earning rule %q: negative rate, multiplier or bonus", ErrInvalidConfig, r.ID))
	}
	if r.Rate.IsZero() && r.Multiplier.IsZero() && r.Bonus == 0 {
		errs = append(errs, fmt.Errorf("%w: earning rule %q earns nothing (no rate, multiplier or bonus)", ErrInvalidConfig, r.ID))
	}
	if !r.Start.IsZero() && !r.End.IsZero() && !r.Start.Before(r.End) {
		errs = append(errs, fmt.Errorf("%w: earning rule %q: start not before end", ErrInvalidConfig, r.ID))
	}
	return errors.Join(errs...)
}

// Offer is what members redeem points for: a coupon of Template, or, with
// no Template, a reward the host fulfils from the Redemption.
type Offer struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Cost in minor units of the points asset.
	Cost     int64  `json:"cost"`
	Template string `json:"template,omitempty"`
	// Start and End bound when it can be redeemed, zero for open; Tiers,
	// when not empty, are the tiers it is open to.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	Tiers []string  `json:"tiers,omitempty"`
}

func (o *Offer) availableAt(now time.Time, tier string) bool {
	if !o.Start.IsZero() && now.Before(o.Start) || !o.End.IsZero() && !now.Before(o.End) {
		return false
	}
	return len(o.Tiers) == 0 || slices.Contains(o.Tiers, tier)
}

// LoyaltyConfig wires a Loyalty program.
type LoyaltyConfig struct {
	// Store keeps members, accruals and tier changes. Required.
	Store LoyaltyStore
	// Tx runs each command atomically; the same adapter as Store, the
	// Ledger's store and the coupon service's. Required.
	Tx storage.Transactor
	// Ledger holds the points; its asset registry must know Points.
	// Required.
	Ledger *ledger.Ledger
	// Coupons issues the coupons of offers with a Template; required when
	// one has.
	Coupons *coupon.Service
	// Outbox receives the program's messages (TopicRegistered,
	// TopicAccrued, TopicRedeemed, TopicTierChanged). Default: Tx when it
	// implements storage.OutboxStore; NoOutbox writes none.
	Outbox   storage.OutboxStore
	NoOutbox bool
	// Leases keep EvaluateTiers to one host at a time. Default: Tx when it
	// implements storage.LeaseStore.
	Leases storage.LeaseStore
	// Clock defaults to storage.SystemClock.
	Clock storage.Clock
	// Rules compiles earning conditions; default rules.NewEnv().
	Rules *rules.Env

	// Points is the points asset (e.g. POINTS, scale 0); Currency the
	// currency spend is measured in. Both required.
	Points   money.Currency
	Currency money.Currency

	// Tiers by ascending Threshold; the first must have Threshold 0 (new
	// members start there). Empty: no tiers.
	Tiers      []TierRule
	TierBasis  TierBasis     // default TierByLifetime
	TierWindow time.Duration // the rolling window of TierBySpend; required for it

	Earning []EarningRule
	Offers  []Offer

	// PointsTTL makes accrued points lapse that long after the accrual
	// (ledger lots, swept by ledger.SweepExpired). Zero: never.
	PointsTTL time.Duration
	// Issuer is the ledger account accrued points come from, Sink the one
	// redeemed points go to. Default ledger.World for both.
	Issuer string
	Sink   string
	// Account is the member's points account; "{member}" is replaced by
	// the member ID. Default "member:{member}:points".
	Account string

	// Owner names this instance in the tier sweep's lease (default a
	// random ID); LeaseTTL bounds one page of the sweep (default 1m).
	Owner    string
	LeaseTTL time.Duration
}

// Validate reports every problem with c, each wrapping ErrInvalidConfig.
func (c LoyaltyConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...)))
	}
	if c.Store == nil {
		bad("Store is required")
	}
	if c.Tx == nil {
		bad("Tx is required")
	}
	if c.Ledger == nil {
		bad("Ledger is required")
	}
	if c.Points.IsZero() {
		bad("Points (the points asset) is required")
	}
	if c.Currency.IsZero() {
		bad("Currency (of spend) is required")
	}
	switch c.TierBasis {
	case "", TierByLifetime:
	case TierBySpend:
		if c.TierWindow <= 0 {
			bad("TierBySpend needs a positive TierWindow")
		}
	default:
		bad("unknown tier basis %q", c.TierBasis)
	}
	seen := map[string]bool{}
	for i, t := range c.Tiers {
		switch {
		case t.Name == "":
			bad("tier %d has no name", i)
		case seen[t.Name]:
			bad("tier %q twice", t.Name)
		}
		seen[t.Name] = true
		if i == 0 && t.Threshold != 0 {
			bad("the first tier (%q) must have threshold 0", t.Name)
		}
		if i > 0 && t.Threshold <= c.Tiers[i-1].Threshold {
			bad("tier %q: thresholds must ascend", t.Name)
		}
	}
	ids := map[string]bool{}
	for _, r := range c.Earning {
		if err := r.validate(); err != nil {
			errs = append(errs, err)
		}
		if ids[r.ID] {
			bad("earning rule %q twice", r.ID)
		}
		ids[r.ID] = true
	}
	offers := map[string]bool{}
	for _, o := range c.Offers {
		switch {
		case o.ID == "":
			bad("offer without ID")
		case offers[o.ID]:
			bad("offer %q twice", o.ID)
		case o.Cost <= 0:
			bad("offer %q: cost must be positive", o.ID)
		case o.Template != "" && c.Coupons == nil:
			bad("offer %q issues coupons: Coupons is required", o.ID)
		}
		offers[o.ID] = true
	}
	if c.PointsTTL < 0 || c.TierWindow < 0 || c.LeaseTTL < 0 {
		bad("durations must not be negative")
	}
	acct := c.Account
	if acct == "" {
		acct = "member:{member}:points"
	} else if !strings.Contains(acct, "{member}") {
		bad("Account pattern %q has no {member}", acct)
	}
	for _, a := range []string{strings.ReplaceAll(acct, "{member}", "m"), c.Issuer, c.Sink} {
		if a == "" {
			continue
		}
		if err := ledger.ValidateAccountID(a); err != nil {
			bad("account %q: %v", a, err)
		}
	}
	return errors.Join(errs...)
}

// Loyalty is a loyalty program: members, points earned by rules and kept
// in a ledger with expiring lots, redemption of points for offers, and
// tiers that move up and down. It holds no state beyond its compiled
// rules; any number of instances may share one database. It is safe for
// concurrent use.
type Loyalty struct {
	cfg     LoyaltyConfig
	store   LoyaltyStore
	tx      storage.Transactor
	ledger  *ledger.Ledger
	outbox  storage.OutboxStore
	leases  storage.LeaseStore
	clock   storage.Clock
	earning []earningRule
	offers  map[string]*Offer
	tierIdx map[string]int
	one     decimal.Decimal
}

type earningRule struct {
	EarningRule
	set *rules.Set
}

// NewLoyalty returns a Loyalty program. Errors: ErrInvalidConfig, with
// every problem of cfg (earning conditions that do not compile included).
func NewLoyalty(cfg LoyaltyConfig) (*Loyalty, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TierBasis == "" {
		cfg.TierBasis = TierByLifetime
	}
	if cfg.Issuer == "" {
		cfg.Issuer = ledger.World
	}
	if cfg.Sink == "" {
		cfg.Sink = ledger.World
	}
	if cfg.Account == "" {
		cfg.Account = "member:{member}:points"
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = time.Minute
	}
	if cfg.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Owner = "loyalty-" + hex.EncodeToString(b[:])
	}
	l := &Loyalty{cfg: cfg, store: cfg.Store, tx: cfg.Tx, ledger: cfg.Ledger, leases: cfg.Leases, clock: cfg.Clock,
		offers: map[string]*Offer{}, tierIdx: map[string]int{}, one: decimal.NewFromInt(1)}
	if l.clock == nil {
		l.clock = storage.SystemClock{}
	}
	if !cfg.NoOutbox {
		l.outbox = cfg.Outbox
		if l.outbox == nil {
			l.outbox, _ = cfg.Tx.(storage.OutboxStore)
		}
	}
	if l.leases == nil {
		l.leases, _ = cfg.Tx.(storage.LeaseStore)
	}
	env := cfg.Rules
	var errs []error
	for _, r := range cfg.Earning {
		er := earningRule{EarningRule: r}
		if r.Condition != "" {
			if env == nil {
				var err error
				if env, err = rules.NewEnv(); err != nil {
					return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
				}
			}
			set, err := env.Build(rules.Definition{ID: r.ID, Expr: r.Condition})
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: earning rule %q: %w", ErrInvalidConfig, r.ID, err))
				continue
			}
			er.set = set
		}
		l.earning = append(l.earning, er)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i := range cfg.Offers {
		l.offers[cfg.Offers[i].ID] = &cfg.Offers[i]
	}
	for i, t := range cfg.Tiers {
		l.tierIdx[t.Name] = i
	}
	return l, nil
}

// Account returns the ledger account holding a member's points.
func (l *Loyalty) Account(member string) string {
	return strings.ReplaceAll(l.cfg.Account, "{member}", member)
}

// Member is a loyalty member with its balance: Points is what it can
// redeem now (the ledger's available balance), Lifetime what it ever
// earned.
type Member struct {
	ID           string       `json:"id"`
	Email        string       `json:"email,omitempty"`
	Name         string       `json:"name,omitempty"`
	Tier         string       `json:"tier"`
	Points       money.Amount `json:"points"`
	Lifetime     money.Amount `json:"lifetime"`
	RegisteredAt time.Time    `json:"registered_at"`
	LastActivity time.Time    `json:"last_activity"`
	TierSince    time.Time    `json:"tier_since"`
}

// Registration is what Register needs.
type Registration struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

func (l *Loyalty) validMember(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: member ID must be 1 to 128 bytes", ErrInvalidArgument)
	}
	if err := ledger.ValidateAccountID(l.Account(id)); err != nil {
		return fmt.Errorf("%w: member ID %q: %w", ErrInvalidArgument, id, err)
	}
	return nil
}

// Register enrols a member in the lowest tier with no points. Errors:
// storage.ErrInvalidTenant; ErrInvalidArgument for a bad ID (1 to 128
// bytes that make a valid ledger account); ErrMemberExists; the store's.
func (l *Loyalty) Register(ctx context.Context, tenant storage.TenantID, r Registration) (Member, error) {
	if err := tenant.Validate(); err != nil {
		return Member{}, err
	}
	if err := l.validMember(r.ID); err != nil {
		return Member{}, err
	}
	now := l.clock.Now()
	rec := MemberRecord{ID: r.ID, Email: r.Email, Name: r.Name, RegisteredAt: now, LastActivity: now, TierSince: now}
	if len(l.cfg.Tiers) > 0 {
		rec.Tier = l.cfg.Tiers[0].Name
	}
	err := l.tx.InTx(ctx, func(ctx context.Context) error {
		if err := l.store.InsertMember(ctx, tenant, rec); err != nil {
			return err
		}
		return l.emit(ctx, tenant, TopicRegistered, r.ID, r.ID, rec)
	})
	if err != nil {
		return Member{}, err
	}
	return l.member(rec, money.Zero(l.cfg.Points)), nil
}

func (l *Loyalty) member(r MemberRecord, points money.Amount) Member {
	return Member{ID: r.ID, Email: r.Email, Name: r.Name, Tier: r.Tier, Points: points,
		Lifetime: money.FromMinor(r.Lifetime, l.cfg.Points), RegisteredAt: r.RegisteredAt, LastActivity: r.LastActivity, TierSince: r.TierSince}
}

// Member returns a member with its current balance. Errors:
// storage.ErrInvalidTenant, ErrMemberNotFound, the store's and ledger's.
func (l *Loyalty) Member(ctx context.Context, tenant storage.TenantID, id string) (Member, error) {
	if err := tenant.Validate(); err != nil {
		return Member{}, err
	}
	rec, err := l.store.Member(ctx, tenant, id)
	if err != nil {
		return Member{}, err
	}
	bal, err := l.ledger.Balance(ctx, tenant, l.Account(id), l.cfg.Points)
	if err != nil {
		return Member{}, err
	}
	return l.member(rec, bal.Available), nil
}

// emit appends one message of the program, when it has an outbox.
func (l *Loyalty) emit(ctx context.Context, tenant storage.TenantID, topic, member, id string, payload any) error {
	if l.outbox == nil {
		return nil
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("reward: encode %s: %w", topic, err)
	}
	return l.outbox.AppendOutbox(ctx, storage.Message{
		EventID: topic + ":" + string(tenant) + ":" + id, Tenant: tenant, Topic: topic,
		AggregateType: AggregateMember, AggregateID: member, Payload: body, CreatedAt: l.clock.Now(),
	})
}
