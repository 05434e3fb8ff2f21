package risk

import (
	"fmt"
	"strconv"
)

// Outcome is what the engine advises the host to do with an action. The
// values are ordered by severity: a Decision carries the most severe
// outcome of the policies that fired.
type Outcome int

const (
	// Allow: no policy fired; go ahead.
	Allow Outcome = iota
	// Review: go ahead but hold the result for a person to review (delay
	// the settlement of a redemption, park a high-value payout).
	Review
	// Reject: refuse this action.
	Reject
	// Freeze: refuse this action and freeze the account or coupon behind
	// it until someone lifts the freeze. The engine does not freeze
	// anything itself; the host (for example the coupon lifecycle) does.
	Freeze
)

// String returns the outcome's name in lower case ("allow", "review",
// "reject", "freeze").
func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Review:
		return "review"
	case Reject:
		return "reject"
	case Freeze:
		return "freeze"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Valid reports whether o is one of the four outcomes.
func (o Outcome) Valid() bool { return o >= Allow && o <= Freeze }

// MarshalText encodes the outcome as its name; an unknown outcome is an
// error.
func (o Outcome) MarshalText() ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("risk: cannot encode %s", o)
	}
	return []byte(o.String()), nil
}

// UnmarshalText decodes an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for c := Allow; c <= Freeze; c++ {
		if string(b) == c.String() {
			*o = c
			return nil
		}
	}
	return fmt.Errorf("risk: unknown outcome %q", b)
}

// Reason tells why a policy fired.
type Reason struct {
	Policy  string  // the policy's name
	Outcome Outcome // what the policy asks for
	Detail  string  // a sentence for logs and reviewers
}

// String returns "policy: outcome: detail".
func (r Reason) String() string { return r.Policy + ": " + r.Outcome.String() + ": " + r.Detail }

// Decision is the engine's verdict on one action: the most severe outcome
// among the policies that fired (Allow when none did), and one Reason per
// fired policy, in the order the policies were configured.
type Decision struct {
	Outcome Outcome
	Reasons []Reason
}

// Allowed reports whether the action may go ahead at once (Outcome is
// Allow). Review lets it go ahead only held for review; Reject and Freeze
// refuse it.
func (d Decision) Allowed() bool { return d.Outcome == Allow }

// Refused reports whether the action must not go ahead (Reject or Freeze).
func (d Decision) Refused() bool { return d.Outcome >= Reject }

func (d *Decision) add(r Reason) {
	d.Reasons = append(d.Reasons, r)
	if r.Outcome > d.Outcome {
		d.Outcome = r.Outcome
	}
}
