package reward

import (
	"github.com/rewardkit/rewardkit/internal/jsontext"
	"slices"
	"strconv"
	"time"
)

// This file writes the JSON of the values on the path of every event (the
// event, for its idempotency fingerprint; the Outcome, stored as the
// event's result; the outbox message of a grant) by hand: encoding/json
// takes more time than counting the event. The bytes are those that
// encoding/json writes for the same values (json_test.go compares them on
// random values), so that a fingerprint stored by an earlier version still
// matches and every reader keeps decoding with encoding/json.

// AppendJSON appends the JSON encoding of ev to b: the bytes json.Marshal
// writes (so ev is a storage.JSONAppender). It returns an error for an
// amount without a currency or a time outside years 0 to 9999, which
// json.Marshal refuses too.
func (ev *Event) AppendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, ev.jsonSize())
	var err error
	b = append(b, `{"id":`...)
	b = appendJSONString(b, ev.ID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(ev.Type))
	b = append(b, `,"time":`...)
	if b, err = appendJSONTime(b, ev.Time); err != nil {
		return nil, err
	}
	b = appendJSONField(b, `,"original_id":`, ev.OriginalID)
	b = appendJSONField(b, `,"user_id":`, ev.UserID)
	b = appendJSONField(b, `,"staff_id":`, ev.StaffID)
	b = appendJSONField(b, `,"shop_id":`, ev.ShopID)
	b = appendJSONField(b, `,"team_id":`, ev.TeamID)
	b = appendJSONField(b, `,"order_id":`, ev.OrderID)
	if !ev.Amount.IsZero() {
		b = append(b, `,"amount":`...)
		if b, err = ev.Amount.AppendJSON(b); err != nil {
			return nil, err
		}
	}
	if len(ev.Lines) > 0 {
		b = append(b, `,"lines":[`...)
		for i := range ev.Lines {
			if i > 0 {
				b = append(b, ',')
			}
			l := &ev.Lines[i]
			b = append(b, `{"sku":`...)
			b = appendJSONString(b, l.SKU)
			b = appendJSONField(b, `,"category":`, l.Category)
			b = append(b, `,"quantity":`...)
			b = strconv.AppendInt(b, l.Quantity, 10)
			if !l.Amount.IsZero() {
				b = append(b, `,"amount":`...)
				if b, err = l.Amount.AppendJSON(b); err != nil {
					return nil, err
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendJSONField(b, `,"channel":`, ev.Channel)
	b = appendJSONField(b, `,"region":`, ev.Region)
	b = appendJSONField(b, `,"status":`, ev.Status)
	b = appendJSONField(b, `,"user_type":`, ev.UserType)
	b = appendJSONField(b, `,"user_tier":`, ev.UserTier)
	if len(ev.UserTags) > 0 {
		b = append(b, `,"user_tags":`...)
		b = appendJSONStrings(b, ev.UserTags)
	}
	if ev.FirstOrder {
		b = append(b, `,"first_order":true`...)
	}
	if ev.NewUser {
		b = append(b, `,"new_user":true`...)
	}
	if len(ev.Attrs) > 0 {
		// encoding/json writes map entries ordered by key.
		keys := make([]string, 0, len(ev.Attrs))
		for k := range ev.Attrs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"attrs":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, ev.Attrs[k])
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// AppendJSON appends the JSON encoding of o to b: the bytes json.Marshal
// writes (so o is a storage.JSONAppender). It returns an error for an
// award amount without a currency, which json.Marshal refuses too.
func (o *Outcome) AppendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, o.jsonSize())
	var err error
	b = append(b, `{"event_id":`...)
	b = appendJSONString(b, o.EventID)
	if o.Pending {
		b = append(b, `,"pending":true`...)
	}
	if len(o.Counted) > 0 {
		b = append(b, `,"counted":[`...)
		for i := range o.Counted {
			if i > 0 {
				b = append(b, ',')
			}
			c := &o.Counted[i]
			b = appendJSONProgressKey(b, `{"campaign":`, &c.ProgressKey)
			b = append(b, `,"event_id":`...)
			b = appendJSONString(b, c.EventID)
			b = append(b, `,"delta":`...)
			b = strconv.AppendInt(b, c.Delta, 10)
			b = append(b, `,"value":`...)
			b = strconv.AppendInt(b, c.Value, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(o.Skipped) > 0 {
		b = append(b, `,"skipped":[`...)
		for i := range o.Skipped {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"campaign":`...)
			b = appendJSONString(b, o.Skipped[i].Campaign)
			b = append(b, `,"reasons":`...)
			b = appendJSONStrings(b, o.Skipped[i].Reasons)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(o.Grants) > 0 {
		b = append(b, `,"grants":[`...)
		for i := range o.Grants {
			if i > 0 {
				b = append(b, ',')
			}
			g := &o.Grants[i]
			b = appendJSONGrantKey(b, `{"campaign":`, &g.GrantKey)
			b = append(b, `,"change":`...)
			b = appendJSONString(b, string(g.Change))
			b = append(b, `,"award":`...)
			if b, err = appendJSONAward(b, &g.Award); err != nil {
				return nil, err
			}
			if g.Seq != 0 {
				b = append(b, `,"seq":`...)
				b = strconv.AppendInt(b, g.Seq, 10)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(o.Released) > 0 {
		b = append(b, `,"released":`...)
		b = appendJSONStrings(b, o.Released)
	}
	return append(b, '}'), nil
}

// jsonSize is about the length of ev's JSON (exact when no string needs
// escaping, amounts aside), so that AppendJSON grows its buffer once.
func (ev *Event) jsonSize() int {
	n := 200 + len(ev.ID) + len(ev.Type) + len(ev.OriginalID) + len(ev.UserID) + len(ev.StaffID) + len(ev.ShopID) +
		len(ev.TeamID) + len(ev.OrderID) + len(ev.Channel) + len(ev.Region) + len(ev.Status) + len(ev.UserType) + len(ev.UserTier)
	for i := range ev.Lines {
		n += 110 + len(ev.Lines[i].SKU) + len(ev.Lines[i].Category)
	}
	for _, t := range ev.UserTags {
		n += 3 + len(t)
	}
	for k, v := range ev.Attrs {
		n += 6 + len(k) + len(v)
	}
	return n
}

// jsonSize is about the length of o's JSON, as Event.jsonSize.
func (o *Outcome) jsonSize() int {
	n := 32 + len(o.EventID)
	for i := range o.Counted {
		c := &o.Counted[i]
		n += 110 + len(c.Campaign) + len(c.Period) + len(c.Participant) + len(c.EventID)
	}
	for i := range o.Skipped {
		n += 32 + len(o.Skipped[i].Campaign)
		for _, r := range o.Skipped[i].Reasons {
			n += 3 + len(r)
		}
	}
	for i := range o.Grants {
		g := &o.Grants[i]
		n += 200 + len(g.Campaign) + len(g.Period) + len(g.Participant) + len(g.Slot) + len(g.Change) + len(g.Award.Template)
	}
	for _, r := range o.Released {
		n += 3 + len(r)
	}
	return n
}

// appendJSON appends the JSON encoding of m: the bytes json.Marshal writes.
func (m *GrantMessage) appendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"tenant":`...)
	b = appendJSONString(b, string(m.Tenant))
	b = append(b, `,"campaign":`...)
	b = appendJSONString(b, m.Campaign)
	b = append(b, `,"period":`...)
	b = appendJSONString(b, m.Period)
	b = append(b, `,"participant":`...)
	b = appendJSONString(b, m.Participant)
	b = append(b, `,"slot":`...)
	b = appendJSONString(b, m.Slot)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, m.Seq, 10)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, m.Key)
	b = append(b, `,"award":`...)
	if b, err = appendJSONAward(b, &m.Award); err != nil {
		return nil, err
	}
	b = appendJSONField(b, `,"ref":`, m.Ref)
	b = appendJSONField(b, `,"event_id":`, m.EventID)
	b = append(b, `,"at":`...)
	if b, err = appendJSONTime(b, m.At); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func appendJSONProgressKey(b []byte, open string, k *ProgressKey) []byte {
	b = append(b, open...)
	b = appendJSONString(b, k.Campaign)
	b = append(b, `,"period":`...)
	b = appendJSONString(b, k.Period)
	b = append(b, `,"participant":`...)
	return appendJSONString(b, k.Participant)
}

func appendJSONGrantKey(b []byte, open string, k *GrantKey) []byte {
	b = append(b, open...)
	b = appendJSONString(b, k.Campaign)
	b = append(b, `,"period":`...)
	b = appendJSONString(b, k.Period)
	b = append(b, `,"participant":`...)
	b = appendJSONString(b, k.Participant)
	b = append(b, `,"slot":`...)
	return appendJSONString(b, k.Slot)
}

func appendJSONAward(b []byte, a *Award) ([]byte, error) {
	b = append(b, `{"kind":`...)
	b = appendJSONString(b, string(a.Kind))
	if !a.Amount.IsZero() {
		var err error
		b = append(b, `,"amount":`...)
		if b, err = a.Amount.AppendJSON(b); err != nil {
			return nil, err
		}
	}
	b = appendJSONField(b, `,"template":`, a.Template)
	if a.Quantity != 0 {
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, int64(a.Quantity), 10)
	}
	if a.Cost != 0 {
		b = append(b, `,"cost":`...)
		b = strconv.AppendInt(b, a.Cost, 10)
	}
	return append(b, '}'), nil
}

// appendJSONField appends a string field tagged omitempty: nothing when s
// is empty.
func appendJSONField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, s)
}

// appendJSONStrings writes ss as json.Marshal does: null when ss is nil.
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONTime writes what time.Time.MarshalJSON writes: RFC 3339 with
// nanoseconds, quoted, refusing what RFC 3339 cannot hold.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

// appendJSONString appends s as a JSON string, HTML-escaped as json.Marshal does.
func appendJSONString(b []byte, s string) []byte { return jsontext.AppendString(b, s, true) }
