package reward

import (
	"errors"
	"fmt"
)

// Sentinel errors of package reward. Every error a method returns for a
// condition the caller may branch on is, or wraps, one of them (or one of
// package storage's); test with errors.Is.
var (
	// ErrInvalidEvent: an event that cannot be counted. The concrete error
	// is an *EventError, which also matches the specific sentinel below.
	ErrInvalidEvent = errors.New("reward: invalid event")
	// ErrMissingEventID: an event without an ID (also ErrInvalidEvent).
	ErrMissingEventID = errors.New("reward: event has no ID")
	// ErrUnknownEventType: an event whose type is neither built in nor
	// registered in Config (also ErrInvalidEvent).
	ErrUnknownEventType = errors.New("reward: unknown event type")
	// ErrMalformedEvent: a payload that does not decode, or an event whose
	// fields contradict each other (also ErrInvalidEvent).
	ErrMalformedEvent = errors.New("reward: malformed event")

	// ErrInvalidCampaign: a campaign definition that cannot run. The
	// concrete error joins every problem found.
	ErrInvalidCampaign = errors.New("reward: invalid campaign")
	// ErrCampaignNotFound: no campaign with that ID in this tenant.
	ErrCampaignNotFound = errors.New("reward: campaign not found")
	// ErrCampaignState: the campaign is not in the state the call needs
	// (closing a campaign that is not active, editing a closed one, ...).
	ErrCampaignState = errors.New("reward: campaign is not in the required state")
	// ErrNotRanking: a leaderboard call on a campaign that is not PK_RANKING.
	ErrNotRanking = errors.New("reward: campaign is not a ranking")
	// ErrNoProgress: the participant has no progress in the campaign.
	ErrNoProgress = errors.New("reward: no progress")
	// ErrInvalidConfig: an Engine or Program configuration that cannot work.
	ErrInvalidConfig = errors.New("reward: invalid configuration")
	// ErrInvalidArgument: a call got an argument it cannot accept.
	ErrInvalidArgument = errors.New("reward: invalid argument")

	// ErrMemberNotFound: no loyalty member with that ID in this tenant.
	ErrMemberNotFound = errors.New("reward: member not found")
	// ErrMemberExists: a member with that ID is already registered.
	ErrMemberExists = errors.New("reward: member already exists")
	// ErrInsufficientPoints: a redemption costs more points than the
	// member has available.
	ErrInsufficientPoints = errors.New("reward: insufficient points")
	// ErrOfferNotFound: no offer with that ID in the program.
	ErrOfferNotFound = errors.New("reward: offer not found")
	// ErrOfferUnavailable: the offer is outside its window or not open to
	// the member's tier.
	ErrOfferUnavailable = errors.New("reward: offer not available")
)

// EventError reports why an event was refused. It matches ErrInvalidEvent
// and the specific sentinel in Err under errors.Is.
type EventError struct {
	EventID string // may be empty when the ID itself is missing
	Field   string // the offending field, e.g. "type"
	Err     error  // ErrMissingEventID, ErrUnknownEventType or ErrMalformedEvent, possibly wrapped
}

func (e *EventError) Error() string {
	id := e.EventID
	if id == "" {
		id = "(no id)"
	}
	return fmt.Sprintf("reward: event %s: %s: %v", id, e.Field, e.Err)
}

// Unwrap returns the specific error.
func (e *EventError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidEvent (the specific sentinel is
// reached through Unwrap).
func (e *EventError) Is(target error) bool { return target == ErrInvalidEvent }

func eventErr(id, field string, err error, format string, args ...any) error {
	if format != "" {
		err = fmt.Errorf("%w: %s", err, fmt.Sprintf(format, args...))
	}
	return &EventError{EventID: id, Field: field, Err: err}
}
