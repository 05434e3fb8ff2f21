package risk

import (
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/money"
)

// Subject names who or what stands behind an action: the party whose
// actions a velocity policy counts, or the deny list a value is looked up
// in.
type Subject string

// The subjects an Action carries.
const (
	User     Subject = "user"
	IP       Subject = "ip"
	Device   Subject = "device"
	Phone    Subject = "phone"
	Merchant Subject = "merchant"
)

// Valid reports whether s is one of the known subjects.
func (s Subject) Valid() bool {
	switch s {
	case User, IP, Device, Phone, Merchant:
		return true
	}
	return false
}

// Limits on the text an Action and a deny-list entry may carry.
const (
	MaxKindLen   = 64  // Action.Kind
	MaxValueLen  = 256 // a subject value (user ID, IP, ...) or a custom key
	MaxReasonLen = 500 // Entry.Reason
)

// Action is one thing a party wants to do, as the risk engine sees it.
// The host fills in what it knows; empty subjects are simply not looked at
// (a velocity policy by IP does not count an action without an IP).
type Action struct {
	// Kind is what is being done, e.g. "coupon.claim", "coupon.redeem",
	// "points.redeem". Policies pick the kinds they apply to. Required:
	// 1 to 64 bytes of [A-Za-z0-9_.:-].
	Kind       string
	UserID     string
	IP         string
	DeviceID   string
	Phone      string
	MerchantID string
	// Amount is the value at stake (a redemption's amount); the zero
	// Amount means none, and threshold policies then do not apply.
	Amount money.Amount
	// At is when the action happens; zero means the engine's clock. It
	// picks the velocity window and judges deny-list expiry.
	At time.Time
}

// Subject returns the action's value for s ("" when it has none).
func (a Action) Subject(s Subject) string {
	switch s {
	case User:
		return a.UserID
	case IP:
		return a.IP
	case Device:
		return a.DeviceID
	case Phone:
		return a.Phone
	case Merchant:
		return a.MerchantID
	}
	return ""
}

// Validate reports ErrInvalidAction when the kind is missing or malformed,
// a subject value is longer than MaxValueLen, or At lies before 1970.
func (a Action) Validate() error {
	if err := validKind(a.Kind); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidAction, err)
	}
	for _, s := range subjects {
		if v := a.Subject(s); len(v) > MaxValueLen {
			return fmt.Errorf("%w: %s is %d bytes long, more than %d", ErrInvalidAction, s, len(v), MaxValueLen)
		}
	}
	if !a.At.IsZero() && a.At.Before(time.Unix(0, 0)) {
		return fmt.Errorf("%w: time %s is before 1970", ErrInvalidAction, a.At.Format(time.RFC3339))
	}
	return nil
}

var subjects = [...]Subject{User, IP, Device, Phone, Merchant}

func validKind(k string) error {
	if k == "" || len(k) > MaxKindLen {
		return fmt.Errorf("kind %q must have 1 to %d bytes", k, MaxKindLen)
	}
	if i := badChar(k, true); i >= 0 {
		return fmt.Errorf("kind %q has the character %q", k, k[i])
	}
	return nil
}

// badChar returns the index of the first byte outside [A-Za-z0-9_.-] (and
// ':' when colon is true), or -1.
func badChar(s string, colon bool) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		case c == ':' && colon:
		default:
			return i
		}
	}
	return -1
}
