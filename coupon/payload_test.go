package coupon

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/storage"
)

// The hand-written outbox payload is byte for byte what encoding/json
// writes, for any strings (escapes, HTML characters, invalid UTF-8,
// U+2028) and times.
func TestAuditJSONMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		str := rapid.OneOf(rapid.String(), rapid.StringOf(rapid.RuneFrom([]rune("a\"\\<>&\u2028\u2029\n\t\b\f\x00\x1f\u00e9"))),
			rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")) }))
		e := AuditEntry{
			Tenant: storage.TenantID(str.Draw(t, "tenant")), EventID: str.Draw(t, "event_id"), CouponID: str.Draw(t, "coupon"),
			TemplateID: str.Draw(t, "template"), UserID: str.Draw(t, "user"), Event: Event(str.Draw(t, "event")),
			From: State(str.Draw(t, "from")), To: State(str.Draw(t, "to")), Actor: str.Draw(t, "actor"),
			Reason: str.Draw(t, "reason"), OrderID: str.Draw(t, "order"),
			At: time.Unix(rapid.Int64Range(0, 1<<35).Draw(t, "sec"), rapid.Int64Range(0, 999_999_999).Draw(t, "nsec")).
				In(time.FixedZone("z", rapid.IntRange(-12, 14).Draw(t, "zone")*3600)),
		}
		want, err := json.Marshal(e)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendAuditJSON(nil, &e)))
	})
}

func TestNewIDs(t *testing.T) {
	s := &Service{} // the default source
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 500 {
		a, b := s.newIDs()
		for _, id := range []string{s.newID(), a, b} {
			require.Regexp(t, re, id)
			require.False(t, seen[id], "duplicate %s", id)
			seen[id] = true
		}
	}
}

func BenchmarkAuditJSON(b *testing.B) {
	e := AuditEntry{Tenant: "shop", EventID: "0198a0f0-0000-7000-8000-000000000000", CouponID: "0198a0f0-0000-7000-8000-000000000001",
		TemplateID: "t1", UserID: "u1", Event: EventClaim, From: StateUnactivated, To: StateActivated, Actor: "u1", At: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		_ = appendAuditJSON(make([]byte, 0, 256), &e)
	}
}
