package reward

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

// The hand-written encoders must write the bytes encoding/json writes:
// stored fingerprints and results depend on it.

func jsonText() *rapid.Generator[string] {
	tricky := []rune{'a', 'Z', '0', ' ', '<', '>', '&', '"', '\\', '/', '\b', '\f', '\n', '\r', '\t', 0, 0x1f, 0x7f,
		'é', '中', '😀', '\u2028', '\u2029', '\ufffd', '\u00a0'}
	return rapid.OneOf(
		rapid.String(),
		rapid.StringOf(rapid.RuneFrom(tricky)),
		// Arbitrary bytes: invalid UTF-8 too.
		rapid.Map(rapid.SliceOfN(rapid.Byte(), 0, 12), func(b []byte) string { return string(b) }),
	)
}

func jsonAmount() *rapid.Generator[money.Amount] {
	curs := []money.Currency{money.USD, money.MustCurrency("JPY", 0), money.MustCurrency("POINTS", 0), money.MustCurrency("BHD", 3)}
	return rapid.Custom(func(t *rapid.T) money.Amount {
		switch rapid.IntRange(0, 3).Draw(t, "amountKind") {
		case 0:
			return money.Amount{}
		case 1:
			return money.Zero(rapid.SampledFrom(curs).Draw(t, "cur"))
		case 2:
			// More decimals than the currency has.
			return money.New(decimal.New(rapid.Int64().Draw(t, "v"), -int32(rapid.IntRange(0, 8).Draw(t, "exp"))), rapid.SampledFrom(curs).Draw(t, "cur"))
		}
		return money.FromMinor(rapid.Int64().Draw(t, "minor"), rapid.SampledFrom(curs).Draw(t, "cur"))
	})
}

func jsonTime() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		// Years -100 to 10100: a few outside what RFC 3339 holds.
		sec := rapid.Int64Range(-65_300_000_000, 256_600_000_000).Draw(t, "sec")
		ts := time.Unix(sec, rapid.Int64Range(0, 999_999_999).Draw(t, "nsec"))
		switch rapid.IntRange(0, 2).Draw(t, "zone") {
		case 0:
			return ts.UTC()
		case 1:
			return ts.In(time.FixedZone("z", rapid.IntRange(-25*3600, 25*3600).Draw(t, "offset")))
		}
		return ts
	})
}

func jsonEvent() *rapid.Generator[Event] {
	return rapid.Custom(func(t *rapid.T) Event {
		s := jsonText()
		ev := Event{
			ID: s.Draw(t, "id"), Type: EventType(s.Draw(t, "type")), Time: jsonTime().Draw(t, "time"),
			OriginalID: s.Draw(t, "orig"), UserID: s.Draw(t, "user"), StaffID: s.Draw(t, "staff"),
			ShopID: s.Draw(t, "shop"), TeamID: s.Draw(t, "team"), OrderID: s.Draw(t, "order"),
			Amount: jsonAmount().Draw(t, "amount"), Channel: s.Draw(t, "channel"), Region: s.Draw(t, "region"),
			Status: s.Draw(t, "status"), UserType: s.Draw(t, "utype"), UserTier: s.Draw(t, "utier"),
			FirstOrder: rapid.Bool().Draw(t, "first"), NewUser: rapid.Bool().Draw(t, "new"),
		}
		if rapid.Bool().Draw(t, "hasLines") {
			ev.Lines = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Line {
				return Line{SKU: s.Draw(t, "sku"), Category: s.Draw(t, "cat"), Quantity: rapid.Int64().Draw(t, "q"), Amount: jsonAmount().Draw(t, "la")}
			}), 0, 3).Draw(t, "lines")
		}
		if rapid.Bool().Draw(t, "hasTags") {
			ev.UserTags = rapid.SliceOfN(s, 0, 3).Draw(t, "tags")
		}
		if rapid.Bool().Draw(t, "hasAttrs") {
			ev.Attrs = rapid.MapOfN(s, s, 0, 4).Draw(t, "attrs")
		}
		return ev
	})
}

func jsonAward() *rapid.Generator[Award] {
	return rapid.Custom(func(t *rapid.T) Award {
		return Award{Kind: AwardKind(jsonText().Draw(t, "kind")), Amount: jsonAmount().Draw(t, "amount"),
			Template: jsonText().Draw(t, "tpl"), Quantity: rapid.IntRange(-2, 5).Draw(t, "qty"), Cost: rapid.Int64Range(-2, 1000).Draw(t, "cost")}
	})
}

func jsonOutcome() *rapid.Generator[Outcome] {
	return rapid.Custom(func(t *rapid.T) Outcome {
		s := jsonText()
		o := Outcome{EventID: s.Draw(t, "id"), Pending: rapid.Bool().Draw(t, "pending")}
		o.Counted = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Count {
			return Count{ProgressKey: ProgressKey{Campaign: s.Draw(t, "c"), Period: s.Draw(t, "p"), Participant: s.Draw(t, "who")},
				EventID: s.Draw(t, "ev"), Delta: rapid.Int64().Draw(t, "d"), Value: rapid.Int64().Draw(t, "v")}
		}), 0, 3).Draw(t, "counted")
		o.Skipped = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Skip {
			sk := Skip{Campaign: s.Draw(t, "c")}
			if rapid.Bool().Draw(t, "hasReasons") {
				sk.Reasons = rapid.SliceOfN(s, 0, 2).Draw(t, "reasons")
			}
			return sk
		}), 0, 3).Draw(t, "skipped")
		o.Grants = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) GrantChange {
			return GrantChange{GrantKey: GrantKey{Campaign: s.Draw(t, "c"), Period: s.Draw(t, "p"), Participant: s.Draw(t, "who"), Slot: s.Draw(t, "slot")},
				Change: Change(s.Draw(t, "change")), Award: jsonAward().Draw(t, "award"), Seq: rapid.Int64Range(-1, 3).Draw(t, "seq")}
		}), 0, 3).Draw(t, "grants")
		if rapid.Bool().Draw(t, "hasReleased") {
			o.Released = rapid.SliceOfN(s, 0, 2).Draw(t, "released")
		}
		return o
	})
}

// sameJSON checks that the hand-written bytes equal json.Marshal's, or
// that both refuse the value.
func sameJSON(t *rapid.T, v any, got []byte, err error) {
	want, werr := json.Marshal(v)
	if werr != nil {
		if err == nil {
			t.Fatalf("json.Marshal refused (%v), AppendJSON wrote %s", werr, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("AppendJSON refused (%v), json.Marshal wrote %s", err, want)
	}
	if string(got) != string(want) {
		t.Fatalf("AppendJSON wrote\n%s\njson.Marshal wrote\n%s", got, want)
	}
}

func TestEventAppendJSONMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ev := jsonEvent().Draw(t, "event")
		prefix := []byte("prefix")
		got, err := ev.AppendJSON(prefix)
		if err == nil {
			if string(got[:len(prefix)]) != "prefix" {
				t.Fatalf("AppendJSON overwrote its buffer: %q", got)
			}
			got = got[len(prefix):]
		}
		sameJSON(t, &ev, got, err)
	})
}

func TestOutcomeAppendJSONMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		o := jsonOutcome().Draw(t, "outcome")
		got, err := o.AppendJSON(nil)
		sameJSON(t, o, got, err)
	})
}

func TestGrantMessageJSONMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := jsonText()
		m := GrantMessage{Tenant: storage.TenantID(s.Draw(t, "tenant")), Campaign: s.Draw(t, "c"), Period: s.Draw(t, "p"),
			Participant: s.Draw(t, "who"), Slot: s.Draw(t, "slot"), Seq: rapid.Int64().Draw(t, "seq"), Key: s.Draw(t, "key"),
			Award: jsonAward().Draw(t, "award"), Ref: s.Draw(t, "ref"), EventID: s.Draw(t, "ev"), At: jsonTime().Draw(t, "at")}
		got, err := m.appendJSON(nil)
		sameJSON(t, m, got, err)
	})
}

// The fingerprint of an event is what it was when encoding/json wrote it.
func TestEventFingerprintUnchanged(t *testing.T) {
	ev := Event{ID: "e-1", Type: OrderInstalled, Time: time.Date(2025, 8, 1, 12, 0, 0, 5, time.UTC), UserID: "u<1>",
		Amount: money.FromMinor(1234, money.USD), Lines: []Line{{SKU: "s&1", Category: "phone", Quantity: 2}},
		Attrs: map[string]string{"b": "2", "a": "\u2028"}}
	b, err := json.Marshal(&ev)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	got, err := storage.Fingerprint(&ev)
	require.NoError(t, err)
	assert.Equal(t, hex.EncodeToString(sum[:]), got)
}
