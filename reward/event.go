package reward

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/storage"
)

// EventType names what happened upstream. The built-in types cover an
// incentive center's stream; a host adds its own through Config.EventTypes
// and Config.ReverseTypes.
type EventType string

// Built-in event types. AfterSale and Refund are reverse types: they take
// back what the event named by OriginalID contributed.
const (
	OrderInstalled      EventType = "order_installed"
	ShopReceived        EventType = "shop_received"
	PropertyTransferred EventType = "property_transferred"
	Attendance          EventType = "attendance"
	AfterSale           EventType = "after_sale"
	Refund              EventType = "refund"
)

// Event is one host event, as delivered (at least once) by the host's
// queue. ID is the deduplication key: the same ID counts once, and the
// same ID with a different payload is refused with
// storage.ErrIdempotencyMismatch.
//
// A reverse event (AfterSale, Refund or a registered reverse type) names
// the forward event it takes back in OriginalID. With no Amount and no
// Lines it takes back everything the forward contributed; otherwise it
// takes back the amount or line quantities it carries (a partial refund),
// never more than the forward contributed.
type Event struct {
	ID         string    `json:"id"`
	Type       EventType `json:"type"`
	Time       time.Time `json:"time"`
	OriginalID string    `json:"original_id,omitempty"`

	// Who acted. A campaign counts the event for one of them, chosen by
	// its Participant kind.
	UserID  string `json:"user_id,omitempty"`
	StaffID string `json:"staff_id,omitempty"`
	ShopID  string `json:"shop_id,omitempty"`
	TeamID  string `json:"team_id,omitempty"`

	// Facts for eligibility rules and indicator strategies.
	OrderID  string       `json:"order_id,omitempty"`
	Amount   money.Amount `json:"amount,omitzero"`
	Lines    []Line       `json:"lines,omitempty"`
	Channel  string       `json:"channel,omitempty"`
	Region   string       `json:"region,omitempty"`
	Status   string       `json:"status,omitempty"`
	UserType string       `json:"user_type,omitempty"`
	UserTier string       `json:"user_tier,omitempty"`
	UserTags []string     `json:"user_tags,omitempty"`
	// FirstOrder and NewUser are the host's flags, visible to rules.
	FirstOrder bool              `json:"first_order,omitempty"`
	NewUser    bool              `json:"new_user,omitempty"`
	Attrs      map[string]string `json:"attrs,omitempty"`
}

// Line is one order line of an event.
type Line struct {
	SKU      string       `json:"sku"`
	Category string       `json:"category,omitempty"`
	Quantity int64        `json:"quantity"`
	Amount   money.Amount `json:"amount,omitzero"`
}

// maxQuantity bounds one line's quantity so that weighted sums cannot
// overflow int64.
const maxQuantity = 1_000_000_000

// ParseEvent decodes an event from its JSON form, refusing unknown fields
// and trailing data, and validates it against the built-in types plus the
// custom ones given. It returns an *EventError matching ErrMalformedEvent,
// ErrMissingEventID or ErrUnknownEventType (all ErrInvalidEvent).
func ParseEvent(data []byte, custom ...EventType) (Event, error) {
	types := eventTypes{forward: map[EventType]bool{}, reverse: map[EventType]bool{}}
	types.add(custom, nil)
	return types.parse(data)
}

func (t eventTypes) parse(data []byte) (Event, error) {
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return Event{}, eventErr("", "payload", ErrMalformedEvent, "%v", err)
	}
	if dec.More() {
		return Event{}, eventErr(ev.ID, "payload", ErrMalformedEvent, "trailing data after the event")
	}
	if err := t.validate(&ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// eventTypes is the set of types an Engine accepts.
type eventTypes struct {
	forward map[EventType]bool
	reverse map[EventType]bool
}

func (t eventTypes) add(forward, reverse []EventType) {
	for _, b := range []EventType{OrderInstalled, ShopReceived, PropertyTransferred, Attendance} {
		t.forward[b] = true
	}
	t.reverse[AfterSale], t.reverse[Refund] = true, true
	for _, f := range forward {
		t.forward[f] = true
	}
	for _, r := range reverse {
		t.reverse[r] = true
	}
}

func (t eventTypes) isReverse(typ EventType) bool { return t.reverse[typ] }

// validate checks ev and returns the first problem as an *EventError.
func (t eventTypes) validate(ev *Event) error {
	if ev.ID == "" {
		return eventErr("", "id", ErrMissingEventID, "")
	}
	if len(ev.ID) > storage.MaxKeyLen {
		return eventErr(ev.ID[:16]+"...", "id", ErrMalformedEvent, "longer than %d bytes", storage.MaxKeyLen)
	}
	if ev.Type == "" {
		return eventErr(ev.ID, "type", ErrUnknownEventType, "empty")
	}
	rev := t.reverse[ev.Type]
	if !rev && !t.forward[ev.Type] {
		return eventErr(ev.ID, "type", ErrUnknownEventType, "%q", ev.Type)
	}
	if ev.Time.IsZero() {
		return eventErr(ev.ID, "time", ErrMalformedEvent, "missing")
	}
	switch {
	case rev && ev.OriginalID == "":
		return eventErr(ev.ID, "original_id", ErrMalformedEvent, "a %s event must name the event it reverses", ev.Type)
	case !rev && ev.OriginalID != "":
		return eventErr(ev.ID, "original_id", ErrMalformedEvent, "a %s event is not a reverse type", ev.Type)
	case ev.OriginalID == ev.ID:
		return eventErr(ev.ID, "original_id", ErrMalformedEvent, "an event cannot reverse itself")
	}
	if ev.Amount.IsNegative() {
		return eventErr(ev.ID, "amount", ErrMalformedEvent, "negative amount %s", ev.Amount)
	}
	if !ev.Amount.Currency().IsZero() && !ev.Amount.IsExact() {
		return eventErr(ev.ID, "amount", ErrMalformedEvent, "%s has more decimals than its currency", ev.Amount)
	}
	for i, l := range ev.Lines {
		if l.SKU == "" && l.Category == "" {
			return eventErr(ev.ID, "lines", ErrMalformedEvent, "line %d has neither SKU nor category", i)
		}
		if l.Quantity < 0 || l.Quantity > maxQuantity {
			return eventErr(ev.ID, "lines", ErrMalformedEvent, "line %d quantity %d outside 0..%d", i, l.Quantity, maxQuantity)
		}
		if l.Amount.IsNegative() {
			return eventErr(ev.ID, "lines", ErrMalformedEvent, "line %d has a negative amount", i)
		}
	}
	return nil
}

// full reports whether a reverse event takes back everything.
func (ev *Event) full() bool { return ev.Amount.Currency().IsZero() && len(ev.Lines) == 0 }

// participant returns the ID the event counts for under kind.
func (ev *Event) participant(kind ParticipantKind) string {
	switch kind {
	case ParticipantUser:
		return ev.UserID
	case ParticipantStaff:
		return ev.StaffID
	case ParticipantShop:
		return ev.ShopID
	case ParticipantTeam:
		return ev.TeamID
	}
	return ""
}

// facts builds the rule facts of ev. Now is the event time, so that rule
// windows are judged by when things happened, not by when they arrived.
func (ev *Event) facts() *rules.Facts {
	f := &rules.Facts{}
	ev.fillFacts(f, nil, map[string]any{})
	return f
}

// factsOf builds the rule facts of ev in sc's memory.
func (sc *scratch) factsOf(ev *Event) *rules.Facts {
	if sc.attrs == nil {
		sc.attrs = make(map[string]any, 3)
	}
	sc.lines = ev.fillFacts(&sc.facts, sc.lines, sc.attrs)
	return &sc.facts
}

// fillFacts sets f to ev's facts, with its lines in lines' memory and its
// attrs in attrs (emptied first), and returns lines as grown.
func (ev *Event) fillFacts(f *rules.Facts, lines []rules.Line, attrs map[string]any) []rules.Line {
	clear(attrs)
	attrs["staff_id"], attrs["team_id"], attrs["shop_id"] = ev.StaffID, ev.TeamID, ev.ShopID
	*f = rules.Facts{
		Order: rules.Order{
			ID: ev.OrderID, Amount: ev.Amount, Status: ev.Status, Channel: ev.Channel,
			Region: ev.Region, ShopID: ev.ShopID, FirstOrder: ev.FirstOrder, CreatedAt: ev.Time,
		},
		User: rules.User{
			ID: ev.UserID, Type: ev.UserType, Tier: ev.UserTier, Region: ev.Region,
			IsNew: ev.NewUser, Attended: ev.Type == Attendance, Tags: ev.UserTags,
		},
		Event:    rules.Event{ID: ev.ID, Type: string(ev.Type), Time: ev.Time, Attrs: ev.Attrs},
		Merchant: rules.Merchant{ID: ev.ShopID, ShopID: ev.ShopID, Region: ev.Region},
		Now:      ev.Time,
		Attrs:    attrs,
	}
	if f.Order.Amount.Currency().IsZero() {
		// Rules compare order.amount as a decimal; an order-less event
		// reads as zero rather than failing the evaluation.
		f.Order.Amount = money.Zero(money.USD)
	}
	if len(ev.Lines) > 0 {
		lines = slices.Grow(lines[:0], len(ev.Lines))[:len(ev.Lines)]
		for i, l := range ev.Lines {
			lines[i] = rules.Line{SKU: l.SKU, Category: l.Category, Quantity: l.Quantity, Amount: l.Amount}
		}
		f.Lines = lines
	}
	return lines
}

func (ev Event) clone() Event {
	ev.Lines = slices.Clone(ev.Lines)
	ev.UserTags = slices.Clone(ev.UserTags)
	if ev.Attrs != nil {
		m := make(map[string]string, len(ev.Attrs))
		for k, v := range ev.Attrs {
			m[k] = v
		}
		ev.Attrs = m
	}
	return ev
}
