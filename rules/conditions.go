package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rewardkit/rewardkit/money"
)

// Condition is a ready-made eligibility check: a CEL expression built from
// parameters by one of the standard-library functions (RegionIn,
// MinOrderAmount, PerUserCap, ...), with every string parameter quoted
// safely. A Condition built from bad parameters carries the error, which Err,
// Rule, Definition and Env.Conditions return (ErrInvalidParam).
type Condition struct {
	Name   string // default rule name, e.g. "region_in"
	Expr   string // the CEL expression
	Reason string // the failure reason
	err    error
}

// Err returns the parameter error, if any (ErrInvalidParam).
func (c Condition) Err() error { return c.err }

// Rule compiles the condition in env under its Name. Errors: ErrInvalidParam
// for bad parameters; otherwise as Env.Compile.
func (c Condition) Rule(env *Env) (*CELRule, error) {
	if c.err != nil {
		return nil, c.err
	}
	return env.Compile(c.Name, c.Expr, Reason(c.Reason))
}

// Definition returns the condition as a Definition with the given ID, for
// use in Build or a JSON rule set. Errors: ErrInvalidParam.
func (c Condition) Definition(id string) (Definition, error) {
	if c.err != nil {
		return Definition{}, c.err
	}
	return Definition{ID: id, Name: c.Name, Expr: c.Expr, Reason: c.Reason}, nil
}

// Conditions compiles conditions into a Set evaluated in the given order,
// each rule named after its condition. Errors: ErrInvalidParam,
// ErrDuplicateID (two conditions with one Name: rename one), and those of
// Compile, each wrapped in a *DefinitionError naming the condition.
func (e *Env) Conditions(conds ...Condition) (*Set, error) {
	entries := make([]Entry, 0, len(conds))
	for _, c := range conds {
		r, err := c.Rule(e)
		if err != nil {
			return nil, &DefinitionError{Rule: c.Name, Err: err}
		}
		entries = append(entries, Entry{Rule: r})
	}
	return NewSet(entries...)
}

// Named returns c under another rule name (for two conditions of one kind
// in a set).
func (c Condition) Named(name string) Condition {
	c.Name = name
	return c
}

// Quote returns s as a CEL string literal. It returns ErrInvalidParam for
// text that is not valid UTF-8 (CEL strings are Unicode).
func Quote(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("string %q is not valid UTF-8: %w", s, ErrInvalidParam)
	}
	// strconv.Quote escapes with \a \b \f \n \r \t \v \\ \" \uXXXX and
	// \UXXXXXXXX, which CEL reads the same way; valid UTF-8 never needs \x.
	return strconv.Quote(s), nil
}

func quoteList(what string, values []string) (string, error) {
	if len(values) == 0 {
		return "", fmt.Errorf("%s: empty set: %w", what, ErrInvalidParam)
	}
	parts := make([]string, len(values))
	for i, v := range values {
		q, err := Quote(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		parts[i] = q
	}
	return "[" + strings.Join(parts, ", ") + "]", nil
}

func inSet(name, field, what string, values []string) Condition {
	list, err := quoteList(name, values)
	if err != nil {
		return Condition{Name: name, err: err}
	}
	return Condition{
		Name:   name,
		Expr:   field + " in " + list,
		Reason: what + " not in " + strings.Join(values, ", "),
	}
}

func anyLine(name, field, what string, values []string) Condition {
	list, err := quoteList(name, values)
	if err != nil {
		return Condition{Name: name, err: err}
	}
	return Condition{
		Name:   name,
		Expr:   "lines.exists(l, l." + field + " in " + list + ")",
		Reason: "no line with " + what + " in " + strings.Join(values, ", "),
	}
}

// ParticipantType passes when user.type is one of types ("consumer", "rider", ...).
func ParticipantType(types ...string) Condition {
	return inSet("participant_type", "user.type", "participant type", types)
}

// RegionIn passes when order.region is one of regions.
func RegionIn(regions ...string) Condition {
	return inSet("region_in", "order.region", "region", regions)
}

// ShopIn passes when order.shop_id is one of shops.
func ShopIn(shops ...string) Condition {
	return inSet("shop_in", "order.shop_id", "shop", shops)
}

// MerchantCategoryIn passes when merchant.category is one of categories.
func MerchantCategoryIn(categories ...string) Condition {
	return inSet("merchant_category_in", "merchant.category", "merchant category", categories)
}

// SKUIn passes when some order line has one of skus.
func SKUIn(skus ...string) Condition { return anyLine("sku_in", "sku", "SKU", skus) }

// CategoryIn passes when some order line has one of categories.
func CategoryIn(categories ...string) Condition {
	return anyLine("category_in", "category", "category", categories)
}

// OrderStatus passes when order.status is one of statuses ("PAID", ...).
func OrderStatus(statuses ...string) Condition {
	return inSet("order_status", "order.status", "order status", statuses)
}

// ChannelIn passes when order.channel is one of channels ("app", "mini_program", ...).
func ChannelIn(channels ...string) Condition {
	return inSet("channel_in", "order.channel", "channel", channels)
}

// EventType passes when event.type is one of types.
func EventType(types ...string) Condition {
	return inSet("event_type", "event.type", "event type", types)
}

// MemberTier passes when user.tier is one of tiers.
func MemberTier(tiers ...string) Condition {
	return inSet("member_tier", "user.tier", "member tier", tiers)
}

// MinOrderAmount passes when the order is in min's currency and its amount
// is at least min, compared exactly as decimals. A zero-currency min is
// ErrInvalidParam.
func MinOrderAmount(min money.Amount) Condition {
	const name = "min_order_amount"
	if min.Currency().IsZero() {
		return Condition{Name: name, err: fmt.Errorf("%s: amount without currency: %w", name, ErrInvalidParam)}
	}
	code, err := Quote(min.Currency().Code())
	if err != nil {
		return Condition{Name: name, err: err}
	}
	value, _ := Quote(min.Decimal().String()) // decimal text is ASCII
	return Condition{
		Name:   name,
		Expr:   "order.currency == " + code + " && order.amount >= dec(" + value + ")",
		Reason: "order amount below " + min.String(),
	}
}

// TimeWindow passes when now is in [from, until). A zero bound is open; both
// zero, or from not before until, is ErrInvalidParam.
func TimeWindow(from, until time.Time) Condition {
	const name = "time_window"
	var parts []string
	if !from.IsZero() {
		parts = append(parts, `now >= timestamp("`+from.UTC().Format(time.RFC3339Nano)+`")`)
	}
	if !until.IsZero() {
		parts = append(parts, `now < timestamp("`+until.UTC().Format(time.RFC3339Nano)+`")`)
	}
	switch {
	case len(parts) == 0:
		return Condition{Name: name, err: fmt.Errorf("%s: no bound: %w", name, ErrInvalidParam)}
	case !from.IsZero() && !until.IsZero() && !from.Before(until):
		return Condition{Name: name, err: fmt.Errorf("%s: from not before until: %w", name, ErrInvalidParam)}
	}
	return Condition{Name: name, Expr: strings.Join(parts, " && "), Reason: "outside the time window"}
}

// FirstOrder passes when the order is the user's first.
func FirstOrder() Condition {
	return Condition{Name: "first_order", Expr: "order.first_order", Reason: "not the user's first order"}
}

// NewUser passes when the user is flagged new.
func NewUser() Condition {
	return Condition{Name: "new_user", Expr: "user.is_new", Reason: "not a new user"}
}

// RegisteredWithin passes when the user registered within d before now
// (and not in the future); an unknown (zero) registration time fails. d is
// counted in whole seconds and must be at least one, else ErrInvalidParam.
func RegisteredWithin(d time.Duration) Condition {
	const name = "registered_within"
	if d < time.Second {
		return Condition{Name: name, err: fmt.Errorf("%s: duration %v below 1s: %w", name, d, ErrInvalidParam)}
	}
	return Condition{
		Name: name,
		Expr: fmt.Sprintf(`user.registered_at <= now && user.registered_at >= now - duration("%ds")`,
			int64(d/time.Second)),
		Reason: "registered more than " + d.String() + " ago",
	}
}

// NotRefunded passes when the order has not been refunded.
func NotRefunded() Condition {
	return Condition{Name: "not_refunded", Expr: "!order.refunded", Reason: "order refunded"}
}

// AttendancePresent passes when the user's attendance is recorded.
func AttendancePresent() Condition {
	return Condition{Name: "attendance_present", Expr: "user.attended", Reason: "no attendance recorded"}
}

// NotDenyListed passes when the user is not on a deny list (the caller sets
// User.DenyListed from its own lists, or from rules/risk).
func NotDenyListed() Condition {
	return Condition{Name: "not_deny_listed", Expr: "!user.deny_listed", Reason: "user is deny-listed"}
}

// HasTag passes when the user carries tag.
func HasTag(tag string) Condition {
	const name = "has_tag"
	q, err := Quote(tag)
	if err != nil || tag == "" {
		if err == nil {
			err = fmt.Errorf("%s: empty tag: %w", name, ErrInvalidParam)
		}
		return Condition{Name: name, err: err}
	}
	return Condition{Name: name, Expr: q + " in user.tags", Reason: "user lacks tag " + tag}
}

// PerUserCap passes while the caller-supplied use count counters[counter]
// is below max; a missing counter counts as zero uses. It is a pre-check:
// the domain that owns the count enforces the cap when it writes. An empty
// counter name or max < 1 is ErrInvalidParam.
func PerUserCap(counter string, max int64) Condition {
	const name = "per_user_cap"
	q, err := Quote(counter)
	switch {
	case err != nil:
		return Condition{Name: name, err: err}
	case counter == "":
		return Condition{Name: name, err: fmt.Errorf("%s: empty counter name: %w", name, ErrInvalidParam)}
	case max < 1:
		return Condition{Name: name, err: fmt.Errorf("%s: max %d below 1: %w", name, max, ErrInvalidParam)}
	}
	return Condition{
		Name:   name,
		Expr:   fmt.Sprintf("(%s in counters ? counters[%s] : 0) < %d", q, q, max),
		Reason: fmt.Sprintf("per-user cap of %d reached", max),
	}
}

// BudgetLeft passes when the caller-supplied remainder counters[counter]
// (in minor units or points) is at least need. A missing counter is an
// evaluation error, never a pass: a budget must be supplied. An empty
// counter name or need < 1 is ErrInvalidParam.
func BudgetLeft(counter string, need int64) Condition {
	const name = "budget_left"
	q, err := Quote(counter)
	switch {
	case err != nil:
		return Condition{Name: name, err: err}
	case counter == "":
		return Condition{Name: name, err: fmt.Errorf("%s: empty counter name: %w", name, ErrInvalidParam)}
	case need < 1:
		return Condition{Name: name, err: fmt.Errorf("%s: need %d below 1: %w", name, need, ErrInvalidParam)}
	}
	return Condition{
		Name:   name,
		Expr:   fmt.Sprintf("counters[%s] >= %d", q, need),
		Reason: "campaign budget exhausted",
	}
}

// MinQuantity passes when a line with sku has a quantity of at least n.
// An empty sku or n < 1 is ErrInvalidParam.
func MinQuantity(sku string, n int64) Condition {
	const name = "min_quantity"
	q, err := Quote(sku)
	switch {
	case err != nil:
		return Condition{Name: name, err: err}
	case sku == "":
		return Condition{Name: name, err: fmt.Errorf("%s: empty sku: %w", name, ErrInvalidParam)}
	case n < 1:
		return Condition{Name: name, err: fmt.Errorf("%s: n %d below 1: %w", name, n, ErrInvalidParam)}
	}
	return Condition{
		Name:   name,
		Expr:   fmt.Sprintf("lines.exists(l, l.sku == %s && l.quantity >= %d)", q, n),
		Reason: fmt.Sprintf("no line with %d or more of %s", n, sku),
	}
}
