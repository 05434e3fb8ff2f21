package reward

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// The Outcome of an event is stored with the event's idempotency claim,
// so that a redelivery returns it: every event leaves it behind for good.
// Its JSON (Outcome.AppendJSON) repeats every field name in every entry
// and the event ID in every count, which makes it several times longer
// than its content; the stored form writes the entries as arrays instead
// (about a third of the size):
//
//	{"event_id":"e-1","v":2,"p":true,
//	 "c":[[campaign,period,participant,delta,value(,event_id)]],
//	 "s":[[campaign,reasons]],
//	 "g":[[campaign,period,participant,slot,change,seq,award]],
//	 "r":[event IDs released]}
//
// A count's event ID is written only when it is not the Outcome's. The
// short names keep the form readable by the Outcome's decoder as an
// Outcome with only its EventID (an older version meeting a newer record
// during a rolling upgrade does not fail); decodeResult reads this form
// and the Outcome's own JSON, which earlier versions stored.

// resultVersion marks the stored form above.
const resultVersion = 2

// appendResult appends the stored form of o to b. It returns an error
// for an award amount without a currency, which json.Marshal refuses too.
func (o *Outcome) appendResult(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"event_id":`...)
	b = appendJSONString(b, o.EventID)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, resultVersion, 10)
	if o.Pending {
		b = append(b, `,"p":true`...)
	}
	if len(o.Counted) > 0 {
		b = append(b, `,"c":[`...)
		for i := range o.Counted {
			c := &o.Counted[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendJSONString(b, c.Campaign)
			b = append(b, ',')
			b = appendJSONString(b, c.Period)
			b = append(b, ',')
			b = appendJSONString(b, c.Participant)
			b = append(b, ',')
			b = strconv.AppendInt(b, c.Delta, 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, c.Value, 10)
			if c.EventID != o.EventID {
				b = append(b, ',')
				b = appendJSONString(b, c.EventID)
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if len(o.Skipped) > 0 {
		b = append(b, `,"s":[`...)
		for i := range o.Skipped {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendJSONString(b, o.Skipped[i].Campaign)
			b = append(b, ',')
			b = appendJSONStrings(b, o.Skipped[i].Reasons)
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if len(o.Grants) > 0 {
		b = append(b, `,"g":[`...)
		for i := range o.Grants {
			g := &o.Grants[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			for _, s := range [...]string{g.Campaign, g.Period, g.Participant, g.Slot, string(g.Change)} {
				b = appendJSONString(b, s)
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, g.Seq, 10)
			b = append(b, ',')
			if b, err = appendJSONAward(b, &g.Award); err != nil {
				return nil, err
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if len(o.Released) > 0 {
		b = append(b, `,"r":`...)
		b = appendJSONStrings(b, o.Released)
	}
	return append(b, '}'), nil
}

// storedResult reads both stored forms: the Outcome's own fields (the
// earlier form) and the short ones.
type storedResult struct {
	Outcome
	V int                 `json:"v"`
	P bool                `json:"p"`
	C [][]json.RawMessage `json:"c"`
	S [][]json.RawMessage `json:"s"`
	G [][]json.RawMessage `json:"g"`
	R []string            `json:"r"`
}

// decodeResult reads a stored Outcome, in either form.
func decodeResult(data []byte, out *Outcome) error {
	var r storedResult
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("reward: stored outcome: %w", err)
	}
	switch r.V {
	case 0:
		*out = r.Outcome
		return nil
	case resultVersion:
	default:
		return fmt.Errorf("reward: stored outcome: unknown version %d", r.V)
	}
	o := Outcome{EventID: r.EventID, Pending: r.P, Released: r.R}
	for _, row := range r.C {
		c := Count{EventID: o.EventID}
		if len(row) == 6 {
			if err := json.Unmarshal(row[5], &c.EventID); err != nil {
				return fmt.Errorf("reward: stored outcome: count: %w", err)
			}
			row = row[:5]
		}
		if err := decodeRow(row, &c.Campaign, &c.Period, &c.Participant, &c.Delta, &c.Value); err != nil {
			return fmt.Errorf("reward: stored outcome: count: %w", err)
		}
		o.Counted = append(o.Counted, c)
	}
	for _, row := range r.S {
		var s Skip
		if err := decodeRow(row, &s.Campaign, &s.Reasons); err != nil {
			return fmt.Errorf("reward: stored outcome: skip: %w", err)
		}
		o.Skipped = append(o.Skipped, s)
	}
	for _, row := range r.G {
		var g GrantChange
		if err := decodeRow(row, &g.Campaign, &g.Period, &g.Participant, &g.Slot, &g.Change, &g.Seq, &g.Award); err != nil {
			return fmt.Errorf("reward: stored outcome: grant: %w", err)
		}
		o.Grants = append(o.Grants, g)
	}
	*out = o
	return nil
}

// decodeRow decodes the elements of row into dst, which must be as many.
func decodeRow(row []json.RawMessage, dst ...any) error {
	if len(row) != len(dst) {
		return fmt.Errorf("%d fields, want %d", len(row), len(dst))
	}
	for i, d := range dst {
		if err := json.Unmarshal(row[i], d); err != nil {
			return err
		}
	}
	return nil
}
