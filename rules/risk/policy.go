package risk

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rewardkit/rewardkit/money"
)

// Policy is one risk control. The package offers three kinds: Velocity
// (at most N actions per subject per window), DenyList (refuse listed
// phones, devices, users, IPs, merchants) and Threshold (amounts at or
// above a minimum). The set is closed: the engine knows how to evaluate
// each kind.
type Policy interface {
	// Validate reports every problem of the policy, each wrapping
	// ErrInvalidPolicy.
	Validate() error
	head() (name string, kinds []string, outcome Outcome)
}

// MaxNameLen is the longest policy name accepted.
const MaxNameLen = 64

// MinWindow is the shortest velocity window accepted.
const MinWindow = time.Second

// Velocity admits at most Limit actions per subject in each window of
// length Window and fires on every action beyond that.
//
// Windows are fixed, not sliding: they are aligned to the Unix epoch
// (a 5-minute window runs 10:00-10:05, 10:05-10:10, ...), and each window
// counts on its own. So "at most Limit per window" holds exactly, even
// under any number of concurrent callers on many hosts, but a burst that
// straddles a boundary can see up to 2*Limit actions admitted within one
// Window's length. Pick the window with that in mind (or add a second
// policy with half the window and half the limit).
//
// Every checked action counts, including those another policy then
// refuses: velocity counts attempts. Actions beyond the limit are not
// counted, so a bucket never holds more than Limit.
type Velocity struct {
	Name  string   // cited by reasons; 1 to 64 bytes of [A-Za-z0-9_.-]
	Kinds []string // the action kinds counted; empty means every kind
	// By is the subject whose actions are counted, e.g. IP for "claims
	// per IP" or Merchant for "redemptions per merchant". An action
	// without that subject is not counted.
	By Subject
	// Key, when set instead of By, builds the counted key from the action
	// (e.g. user and merchant together); an empty result is not counted.
	// It must be a pure function of the action.
	Key     func(Action) string
	Limit   int64         // actions admitted per window; at least 1
	Window  time.Duration // at least MinWindow, in whole milliseconds
	Outcome Outcome       // Review, Reject or Freeze
}

// DenyList fires when one of the action's subjects named in Lists is on
// the tenant's deny list (and the entry has not expired).
type DenyList struct {
	Name    string
	Kinds   []string  // the action kinds checked; empty means every kind
	Lists   []Subject // the subjects looked up, e.g. Phone and Device
	Outcome Outcome   // Review, Reject or Freeze
}

// Threshold fires when the action's amount is at least the minimum for
// its currency: "review redemptions of 1,000.00 or more". Actions without
// an amount are not judged; an action in a currency that Min does not
// cover is an error (ErrInvalidAction), not a silent pass.
type Threshold struct {
	Name    string
	Kinds   []string       // the action kinds judged; empty means every kind
	Min     []money.Amount // one minimum per currency
	Outcome Outcome        // Review, Reject or Freeze
}

func (p Velocity) head() (string, []string, Outcome)  { return p.Name, p.Kinds, p.Outcome }
func (p DenyList) head() (string, []string, Outcome)  { return p.Name, p.Kinds, p.Outcome }
func (p Threshold) head() (string, []string, Outcome) { return p.Name, p.Kinds, p.Outcome }

// Validate reports every problem, each wrapping ErrInvalidPolicy.
func (p Velocity) Validate() error {
	errs := validHead(p.Name, p.Kinds, p.Outcome)
	switch {
	case p.Key != nil && p.By != "":
		errs = append(errs, p.bad("set By or Key, not both"))
	case p.Key == nil && !p.By.Valid():
		errs = append(errs, p.bad(fmt.Sprintf("unknown subject %q (want user, ip, device, phone or merchant, or a Key)", string(p.By))))
	}
	if p.Limit < 1 {
		errs = append(errs, p.bad(fmt.Sprintf("limit %d is below 1", p.Limit)))
	}
	if p.Window < MinWindow || p.Window%time.Millisecond != 0 {
		errs = append(errs, p.bad(fmt.Sprintf("window %s must be at least %s and whole milliseconds", p.Window, MinWindow)))
	}
	return errors.Join(errs...)
}

func (p Velocity) bad(msg string) error { return badPolicy(p.Name, msg) }

// Validate reports every problem, each wrapping ErrInvalidPolicy.
func (p DenyList) Validate() error {
	errs := validHead(p.Name, p.Kinds, p.Outcome)
	if len(p.Lists) == 0 {
		errs = append(errs, badPolicy(p.Name, "no lists"))
	}
	for i, l := range p.Lists {
		if !l.Valid() {
			errs = append(errs, badPolicy(p.Name, fmt.Sprintf("unknown list %q", string(l))))
		} else if slices.Contains(p.Lists[:i], l) {
			errs = append(errs, badPolicy(p.Name, fmt.Sprintf("list %s named twice", l)))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem, each wrapping ErrInvalidPolicy.
func (p Threshold) Validate() error {
	errs := validHead(p.Name, p.Kinds, p.Outcome)
	if len(p.Min) == 0 {
		errs = append(errs, badPolicy(p.Name, "no minimum"))
	}
	for i, m := range p.Min {
		switch {
		case m.Currency().IsZero():
			errs = append(errs, badPolicy(p.Name, "a minimum without currency"))
		case m.IsNegative():
			errs = append(errs, badPolicy(p.Name, fmt.Sprintf("negative minimum %s", m)))
		case slices.ContainsFunc(p.Min[:i], func(o money.Amount) bool { return o.Currency() == m.Currency() }):
			errs = append(errs, badPolicy(p.Name, fmt.Sprintf("two minimums in %s", m.Currency())))
		}
	}
	return errors.Join(errs...)
}

// min returns the minimum for c.
func (p Threshold) min(c money.Currency) (money.Amount, bool) {
	for _, m := range p.Min {
		if m.Currency() == c {
			return m, true
		}
	}
	return money.Amount{}, false
}

func validHead(name string, kinds []string, o Outcome) []error {
	var errs []error
	if name == "" || len(name) > MaxNameLen {
		errs = append(errs, fmt.Errorf("%w: name %q must have 1 to %d bytes", ErrInvalidPolicy, name, MaxNameLen))
	} else if i := badChar(name, false); i >= 0 {
		errs = append(errs, fmt.Errorf("%w: name %q has the character %q (want [A-Za-z0-9_.-])", ErrInvalidPolicy, name, name[i]))
	}
	for _, k := range kinds {
		if err := validKind(k); err != nil {
			errs = append(errs, fmt.Errorf("%w: policy %q: %w", ErrInvalidPolicy, name, err))
		}
	}
	if o != Review && o != Reject && o != Freeze {
		errs = append(errs, badPolicy(name, fmt.Sprintf("outcome %s is not review, reject or freeze", o)))
	}
	return errs
}

func badPolicy(name, msg string) error {
	return fmt.Errorf("%w: policy %q: %s", ErrInvalidPolicy, name, msg)
}

// applies reports whether a policy with these kinds judges an action of
// kind k.
func applies(kinds []string, k string) bool {
	return len(kinds) == 0 || slices.Contains(kinds, k)
}
