package coupon

import (
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// Template is a coupon definition: what it grants, where it applies, when
// and to whom, and how many may be issued and used. Templates are immutable
// once created; coupons are issued from them.
type Template struct {
	Tenant storage.TenantID `json:"tenant"`
	ID     string           `json:"id"`
	Name   string           `json:"name,omitempty"`

	Benefit  Benefit  `json:"benefit"`
	Scope    Scope    `json:"scope,omitzero"`
	Stacking Stacking `json:"stacking,omitzero"`
	Funding  Funding  `json:"funding,omitempty"`

	// Conditions are CEL rules over rules.Facts, checked at claim, at lock
	// (use) or both.
	Conditions []Condition `json:"conditions,omitempty"`
	Validity   Validity    `json:"validity"`
	Limits     Limits      `json:"limits,omitzero"`

	// Auto marks an automatic promotion: it applies to any cart it fits
	// without a coupon; it cannot be claimed. Pricing reads these through
	// Service.Usable.
	Auto bool `json:"auto,omitempty"`
	// Refund says what a refunded order does to the coupon it used.
	Refund RefundPolicy `json:"refund,omitempty"`

	CreatedAt time.Time `json:"created_at"`
}

// Phase says when a condition is checked.
type Phase string

// Condition phases.
const (
	PhaseAlways Phase = ""      // at claim and at use
	PhaseClaim  Phase = "claim" // when a user claims or redeems
	PhaseUse    Phase = "use"   // when a coupon is locked for an order, and in Usable
)

// Condition is a usage condition: a CEL expression over rules.Facts (order,
// lines, user, event, merchant, now, attrs, counters) that must be true.
type Condition struct {
	Name   string `json:"name"`
	Expr   string `json:"expr"`
	Reason string `json:"reason,omitempty"` // reported when it fails
	On     Phase  `json:"on,omitempty"`
}

func (c Condition) appliesAt(p Phase) bool { return c.On == PhaseAlways || c.On == p }

// Validity says how long an issued coupon can be used.
//
// With Days zero the window is fixed: every coupon is valid from Start
// (zero: at once) until End (required). With Days > 0 a coupon is valid
// from its claim until the end of the Days-th calendar day counting the
// claim day, in TimeZone (Days 1: until midnight of the claim day); Start
// and End then bound when it may be claimed. TimeZone is an IANA name;
// empty means UTC.
type Validity struct {
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	Days     int       `json:"days,omitempty"`
	TimeZone string    `json:"time_zone,omitempty"`
}

// Window returns the validity of a coupon claimed at claimedAt, in loc (the
// template's time zone, resolved once by the service).
func (v Validity) window(claimedAt time.Time, loc *time.Location) (from, until time.Time) {
	if v.Days <= 0 {
		return v.Start, v.End
	}
	t := claimedAt.In(loc)
	y, m, d := t.Date()
	return claimedAt, time.Date(y, m, d+v.Days, 0, 0, 0, 0, loc).UTC()
}

// claimable reports ErrNotStarted or ErrExpired when now is outside the
// claim window.
func (v Validity) claimable(now time.Time) error {
	if !v.Start.IsZero() && now.Before(v.Start) {
		return fmt.Errorf("%w: claims open at %s", ErrNotStarted, v.Start.Format(time.RFC3339))
	}
	if !v.End.IsZero() && !now.Before(v.End) {
		return fmt.Errorf("%w: claims closed at %s", ErrExpired, v.End.Format(time.RFC3339))
	}
	return nil
}

// Location resolves TimeZone.
func (v Validity) Location() (*time.Location, error) {
	if v.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(v.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone %q: %w", ErrInvalidTemplate, v.TimeZone, err)
	}
	return loc, nil
}

// Limits bound issuance and use. Zero means no limit.
type Limits struct {
	// Stock is the most coupons ever issued (claimed, distributed or
	// generated as codes).
	Stock int64 `json:"stock,omitempty"`
	// PerUser is the most coupons one user may hold.
	PerUser int64 `json:"per_user,omitempty"`
	// PerOrder is the most coupons of the template one order may use.
	PerOrder int64 `json:"per_order,omitempty"`
	// Budget is the most discount all coupons together may grant, in the
	// benefit's currency. A lock whose discount would overrun it is cut to
	// what is left (LockResult.Cut).
	Budget money.Amount `json:"budget,omitzero"`
}

// RefundPolicy says what happens to a used coupon when its order is
// refunded.
type RefundPolicy string

// Refund policies.
const (
	// RefundBurn (the default) leaves the coupon REFUNDED: it is spent.
	RefundBurn RefundPolicy = "burn"
	// RefundRestore returns the coupon to ACTIVATED, usable again within
	// its validity.
	RefundRestore RefundPolicy = "restore"
)

// MaxIDLen is the longest template, coupon, user or order ID accepted.
const MaxIDLen = 128

func validID(what, id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("%w: %s must be 1 to %d bytes", ErrInvalidRequest, what, MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] == 0x7f {
			return fmt.Errorf("%w: %s %q has a space or control character", ErrInvalidRequest, what, id)
		}
	}
	return nil
}

// Validate reports every problem with t, each wrapping ErrInvalidTemplate
// (benefit problems also wrap ErrInvalidBenefit). It does not compile the
// conditions: Service.CreateTemplate does.
func (t Template) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidTemplate, fmt.Sprintf(format, args...)))
	}
	if err := t.Tenant.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidTemplate, err))
	}
	if err := validID("template ID", t.ID); err != nil {
		bad("%v", err)
	}
	if err := t.Benefit.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidTemplate, err))
	}
	if err := t.Funding.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidTemplate, err))
	}
	v := t.Validity
	switch {
	case v.Days < 0:
		bad("validity days must not be negative")
	case v.Days == 0 && v.End.IsZero():
		bad("validity needs an end or a number of days")
	}
	if !v.Start.IsZero() && !v.End.IsZero() && !v.Start.Before(v.End) {
		bad("validity start must be before its end")
	}
	if _, err := v.Location(); err != nil {
		errs = append(errs, err)
	}
	l := t.Limits
	if l.Stock < 0 || l.PerUser < 0 || l.PerOrder < 0 {
		bad("limits must not be negative")
	}
	if !l.Budget.IsZero() || !l.Budget.Currency().IsZero() {
		switch {
		case l.Budget.Currency() != t.Benefit.Currency:
			bad("budget is in %s, not %s", l.Budget.Currency().Code(), t.Benefit.Currency.Code())
		case !l.Budget.IsPositive() || !l.Budget.IsExact():
			bad("budget must be positive, at the currency's scale")
		}
	}
	seen := map[string]bool{}
	for _, c := range t.Conditions {
		if c.Name == "" || seen[c.Name] {
			bad("condition names must be given and distinct (%q)", c.Name)
		}
		seen[c.Name] = true
		if c.Expr == "" {
			bad("condition %q has no expression", c.Name)
		}
		if c.On != PhaseAlways && c.On != PhaseClaim && c.On != PhaseUse {
			bad("condition %q: unknown phase %q", c.Name, c.On)
		}
	}
	switch t.Refund {
	case "", RefundBurn, RefundRestore:
	default:
		bad("unknown refund policy %q", t.Refund)
	}
	if t.Auto && t.Benefit.Kind == KindGiftCard {
		bad("a gift card cannot be an automatic promotion")
	}
	return errors.Join(errs...)
}

func (t Template) refundPolicy() RefundPolicy {
	if t.Refund == "" {
		return RefundBurn
	}
	return t.Refund
}
