package ledger

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jsonPosting and jsonPayload state the shape of the payload of
// "ledger.transaction.committed", which txEvent writes by hand.
type jsonPosting struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Asset       string `json:"asset"`
	Amount      int64  `json:"amount"`
	ExpiresAt   string `json:"expires_at,omitempty"`
}

type jsonPayload struct {
	ID       string            `json:"id"`
	Key      string            `json:"key"`
	Kind     string            `json:"kind"`
	At       string            `json:"at"`
	Postings []jsonPosting     `json:"postings"`
	Reverses string            `json:"reverses,omitempty"`
	Hold     string            `json:"hold,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func encodingJSON(t *testing.T, r *TxRow) []byte {
	t.Helper()
	p := jsonPayload{ID: r.ID, Key: r.Key, Kind: r.Kind.String(), At: r.At.UTC().Format(time.RFC3339Nano),
		Postings: []jsonPosting{}, Reverses: r.Reverses, Hold: r.Hold, Metadata: r.Metadata}
	for _, ln := range r.Lines {
		jp := jsonPosting{Source: ln.Source, Destination: ln.Destination, Asset: ln.Asset, Amount: ln.Amount}
		if !ln.ExpiresAt.IsZero() {
			jp.ExpiresAt = ln.ExpiresAt.UTC().Format(time.RFC3339Nano)
		}
		p.Postings = append(p.Postings, jp)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(p))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestTxEventPayloadMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	east := time.FixedZone("UTC+8", 8*3600)
	tests := []struct {
		name string
		row  TxRow
		// exact: byte for byte (else the same JSON value)
		exact bool
	}{
		{name: "transfer", exact: true, row: TxRow{ID: "01a205e9-b1f9-7c8b-89ed-eeed48b324af", Key: "order-1", Kind: KindTransfer, At: at,
			Lines: []LineRow{{Source: "world", Destination: "member:1", Asset: "POINTS", Amount: 100}}}},
		{name: "expiring lots, fractions of a second, another zone", exact: true, row: TxRow{ID: "t2", Key: "k2", Kind: KindTransfer,
			At: time.Date(2025, 3, 1, 20, 0, 0, 120000000, east),
			Lines: []LineRow{
				{Source: "world", Destination: "member:1", Asset: "POINTS", Amount: 1 << 53, ExpiresAt: at.AddDate(1, 0, 0).Add(7 * time.Nanosecond)},
				{Source: "member:1", Destination: "shop", Asset: "USD", Amount: 1}}}},
		{name: "reversal with metadata", exact: true, row: TxRow{ID: "t3", Key: "k3", Kind: KindReversal, At: at, Reverses: "t2",
			Lines:    []LineRow{{Source: "shop", Destination: "member:1", Asset: "USD", Amount: 1}},
			Metadata: map[string]string{"reason": "refund", "order": "o-1", "a": ""}}},
		{name: "capture", exact: true, row: TxRow{ID: "t4", Key: "k4", Kind: KindCapture, At: at, Hold: "h1",
			Lines: []LineRow{{Source: "card:1", Destination: "shop", Asset: "POINTS", Amount: 60}}}},
		{name: "escapes", exact: true, row: TxRow{ID: "t5", Key: "quote \" backslash \\ tab \t nl \n ctl \x01 \b \f \x1f \x7f <&> é 😀", Kind: KindTransfer, At: at,
			Lines:    []LineRow{{Source: "a", Destination: "b", Asset: "POINTS", Amount: 1}},
			Metadata: map[string]string{"note\"": "line\r\nbreak"}}},
		{name: "separators and invalid UTF-8", exact: true, row: TxRow{ID: "t6", Key: "k\u2028\u2029\xff", Kind: KindExpiry, At: at,
			Lines:    []LineRow{{Source: "a", Destination: "b", Asset: "POINTS", Amount: 1}},
			Metadata: map[string]string{"bad\xfe": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := txEvent("shop", &tt.row)
			want := encodingJSON(t, &tt.row)
			require.True(t, json.Valid(ev.Payload), "%s", ev.Payload)
			if tt.exact {
				assert.Equal(t, string(want), string(ev.Payload))
			} else {
				assert.JSONEq(t, string(want), string(ev.Payload))
			}
			assert.Equal(t, TopicTransactionCommitted, ev.Topic)
			assert.Equal(t, "ledger.tx."+tt.row.ID, ev.EventID)
			assert.Equal(t, tt.row.ID, ev.AggregateID)
			require.NoError(t, ev.Validate())
		})
	}
}

func TestTxPayloadSizeIsExact(t *testing.T) {
	// Without escapes, txEvent allocates the payload once at its size.
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range []TxRow{
		{ID: "x", Key: "k", Kind: KindTransfer, At: at, Lines: []LineRow{{Source: "a", Destination: "b", Asset: "POINTS", Amount: 9}}},
		{ID: "x", Key: "k", Kind: KindExpiry, At: at.Add(1500 * time.Millisecond), Metadata: map[string]string{"reason": "expiry", "b": "c"},
			Lines: []LineRow{{Source: "a", Destination: "b", Asset: "POINTS", Amount: 1234567890123, ExpiresAt: at.Add(time.Nanosecond)}}},
		{ID: "x", Key: "k", Kind: KindReversal, At: at, Reverses: "y", Hold: "h", Lines: []LineRow{
			{Source: "a", Destination: "b", Asset: "USD", Amount: 10}, {Source: "b", Destination: "a", Asset: "USD", Amount: 100}}},
	} {
		ev := txEvent("shop", &r)
		assert.Equal(t, len(ev.Payload), cap(ev.Payload), "%s", ev.Payload)
	}
}

func TestTxIDsShareOneString(t *testing.T) {
	l := &Ledger{}
	var sum [16]byte
	sum[0] = 0xab
	id, eventID, key, fp := l.txIDs(sum, "order-7")
	assert.Len(t, id, 36)
	assert.Equal(t, txEventPrefix+id, eventID)
	assert.Equal(t, "order-7", key)
	assert.Equal(t, "ab000000000000000000000000000000", fp)

	n := 0
	l = &Ledger{customID: func() string { n++; return "custom" }}
	id, eventID, key, fp = l.txIDs(sum, "k")
	assert.Equal(t, []string{"custom", "ledger.tx.custom", "k", "ab000000000000000000000000000000"}, []string{id, eventID, key, fp})
	assert.Equal(t, 1, n)
}

func TestTxEventAppendsToRoom(t *testing.T) {
	r := TxRow{ID: "x", Key: "k", Kind: KindTransfer, At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Lines: []LineRow{{Source: "a", Destination: "b", Asset: "POINTS", Amount: 9}}}
	want := txEventSized("shop", &r, "e", nil, txPayloadSize(&r))
	buf := make([]byte, 3, 1024)
	got := txEventSized("shop", &r, "e", buf, txPayloadSize(&r))
	assert.Equal(t, want.Payload, got.Payload)
	assert.Same(t, &buf[:4][3], &got.Payload[0], "written after buf's bytes, in place")
	assert.Equal(t, len(got.Payload), cap(got.Payload), "a payload cannot be appended to over the next one")

	short := make([]byte, 0, 4)
	got = txEventSized("shop", &r, "e", short, txPayloadSize(&r))
	assert.Equal(t, want.Payload, got.Payload)
	assert.Equal(t, len(got.Payload), cap(got.Payload))
}
