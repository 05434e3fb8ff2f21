package reward

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/storage"
)

// viaJSON is o as a reader of its JSON sees it (invalid UTF-8 replaced,
// empty lists dropped): what a redelivery returned before the short form.
func viaJSON(t *rapid.T, o Outcome) (Outcome, bool) {
	b, err := json.Marshal(o)
	if err != nil {
		return Outcome{}, false
	}
	var back Outcome
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("the Outcome's JSON does not decode: %v", err)
	}
	return back, true
}

// The stored form decodes to what the Outcome's own JSON decodes to, and
// a result stored by an earlier version (the Outcome's JSON) still reads.
func TestStoredResultRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		o := jsonOutcome().Draw(t, "outcome")
		if rapid.Bool().Draw(t, "ownCounts") {
			// The usual case: every count is the Outcome's event's.
			for i := range o.Counted {
				o.Counted[i].EventID = o.EventID
			}
		}
		want, ok := viaJSON(t, o)
		b, err := o.appendResult([]byte("x"))
		if !ok {
			if err == nil {
				t.Fatalf("json.Marshal refuses the outcome, appendResult wrote %s", b)
			}
			return
		}
		require.NoError(t, err)
		require.Equal(t, "x", string(b[:1]), "appendResult appends")
		b = b[1:]
		require.True(t, json.Valid(b), "%s", b)

		var got Outcome
		require.NoError(t, decodeResult(b, &got))
		assert.Equal(t, want, got)

		old, err := o.AppendJSON(nil)
		require.NoError(t, err)
		var fromOld Outcome
		require.NoError(t, decodeResult(old, &fromOld))
		assert.Equal(t, want, fromOld, "a result in the earlier form")

		// An earlier version meeting the short form reads the event ID
		// and nothing else, without failing.
		var older Outcome
		require.NoError(t, json.Unmarshal(b, &older))
		assert.Equal(t, Outcome{EventID: want.EventID}, older)

		if len(b) > 0 && len(o.Counted) > 1 {
			assert.Less(t, len(b), len(old), "the short form is shorter")
		}
	})
}

func TestStoredResultRefusesUnknownForms(t *testing.T) {
	var o Outcome
	require.Error(t, decodeResult([]byte(`{"event_id":"e","v":3}`), &o))
	require.Error(t, decodeResult([]byte(`{"event_id":"e","v":2,"c":[["c","p"]]}`), &o))
	require.Error(t, decodeResult([]byte(`not json`), &o))
}

// Handle fingerprints events itself; its fingerprint must be
// storage.Fingerprint's, or redeliveries of events claimed by an earlier
// version would be refused as mismatches.
func TestHandlingFingerprintIsStorageFingerprint(t *testing.T) {
	e := &Engine{}
	rapid.Check(t, func(t *rapid.T) {
		ev := jsonEvent().Draw(t, "event")
		h := e.handling()
		h.ev = ev
		err := h.fingerprint()
		want, werr := storage.Fingerprint(&ev)
		if werr != nil {
			require.ErrorIs(t, err, storage.ErrInvalidArgument)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, want, h.fp)
		e.release(h)
	})
}
