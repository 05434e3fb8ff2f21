package ledger

import (
	"strconv"
	"time"

	"github.com/rewardkit/rewardkit/internal/jsontext"
	"github.com/rewardkit/rewardkit/storage"
)

// Outbox topics. Every state change appends one message in the same
// transaction; amounts in payloads are integer minor units beside their
// asset code.
const (
	TopicTransactionCommitted = "ledger.transaction.committed"
	TopicHoldPlaced           = "ledger.hold.placed"
	TopicHoldReleased         = "ledger.hold.released"
	TopicAccountOpened        = "ledger.account.opened"
)

// Aggregate types of the outbox messages.
const (
	AggregateTransaction = "ledger.transaction"
	AggregateHold        = "ledger.hold"
	AggregateAccount     = "ledger.account"
)

// txEvent builds the message of a committed transaction, its payload
// allocated at its size.
func txEvent(tenant storage.TenantID, r *TxRow) storage.Message {
	return txEventSized(tenant, r, txEventPrefix+r.ID, nil, txPayloadSize(r))
}

// txEventSized builds the message of a committed transaction, with event
// ID eventID (txEventPrefix and the ID, which the transfer path cuts from
// a string of its own, see txIDs). The payload is written by hand: it is
// on the hot path, and every field is a string, an integer or a time. It
// is appended to buf when buf has room for size bytes (txPayloadSize(r)),
// else allocated at that size.
func txEventSized(tenant storage.TenantID, r *TxRow, eventID string, buf []byte, size int) storage.Message {
	b := buf
	if cap(b)-len(b) < size {
		b = make([]byte, 0, size)
	}
	at := len(b)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, r.Key)
	b = append(b, `,"kind":"`...)
	b = append(b, r.Kind.String()...)
	b = append(b, `","at":"`...)
	b = r.At.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","postings":[`...)
	for i := range r.Lines {
		ln := &r.Lines[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"source":`...)
		b = appendJSONString(b, ln.Source)
		b = append(b, `,"destination":`...)
		b = appendJSONString(b, ln.Destination)
		b = append(b, `,"asset":"`...)
		b = append(b, ln.Asset...)
		b = append(b, `","amount":`...)
		b = strconv.AppendInt(b, ln.Amount, 10)
		if !ln.ExpiresAt.IsZero() {
			b = append(b, `,"expires_at":"`...)
			b = ln.ExpiresAt.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if r.Reverses != "" {
		b = append(b, `,"reverses":`...)
		b = appendJSONString(b, r.Reverses)
	}
	if r.Hold != "" {
		b = append(b, `,"hold":`...)
		b = appendJSONString(b, r.Hold)
	}
	b = appendMeta(b, r.Metadata)
	b = append(b, '}')
	return storage.Message{
		EventID: eventID, Tenant: tenant, Topic: TopicTransactionCommitted,
		AggregateType: AggregateTransaction, AggregateID: r.ID, Payload: b[at:len(b):len(b)], CreatedAt: r.At,
	}
}

// txPayloadSize is the size of r's payload when no string needs an
// escape (else txEvent's appends grow it), so that txEvent allocates it
// once and no larger than needed.
func txPayloadSize(r *TxRow) int {
	n := len(`{"id":"","key":"","kind":"","at":"","postings":[]}`) + len(r.ID) + len(r.Key) + len(r.Kind.String()) + timeLen(r.At)
	for i := range r.Lines {
		ln := &r.Lines[i]
		if i > 0 {
			n++ // ,
		}
		n += len(`{"source":"","destination":"","asset":"","amount":}`) + len(ln.Source) + len(ln.Destination) + len(ln.Asset) +
			intLen(ln.Amount)
		if !ln.ExpiresAt.IsZero() {
			n += len(`,"expires_at":""`) + timeLen(ln.ExpiresAt)
		}
	}
	if r.Reverses != "" {
		n += len(`,"reverses":""`) + len(r.Reverses)
	}
	if r.Hold != "" {
		n += len(`,"hold":""`) + len(r.Hold)
	}
	if len(r.Metadata) > 0 {
		n += len(`,"metadata":{}`) + len(r.Metadata) - 1 // the commas between entries
		for k, v := range r.Metadata {
			n += len(`"":""`) + len(k) + len(v)
		}
	}
	return n
}

// timeLen is the length of t in UTC as RFC 3339 with nanoseconds: 20
// bytes, and a fraction without its trailing zeros.
func timeLen(t time.Time) int {
	n := 20 // 2006-01-02T15:04:05Z
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		n += 6 // AppendFormat writes such years as it can; an estimate
	}
	ns := t.Nanosecond()
	if ns == 0 {
		return n
	}
	n += 10 // .999999999
	for ns%10 == 0 {
		ns /= 10
		n--
	}
	return n
}

// intLen is the number of bytes of v in decimal.
func intLen(v int64) int {
	n := 1
	if v < 0 {
		n++
	}
	for v >= 10 || v <= -10 {
		v /= 10
		n++
	}
	return n
}

func holdEvent(tenant storage.TenantID, topic string, h *HoldRow, at time.Time) storage.Message {
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, h.ID)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, h.Key)
	b = append(b, `,"account":`...)
	b = appendJSONString(b, h.Account)
	b = append(b, `,"destination":`...)
	b = appendJSONString(b, h.Destination)
	b = append(b, `,"asset":"`...)
	b = append(b, h.Asset...)
	b = append(b, `","amount":`...)
	b = strconv.AppendInt(b, h.Amount, 10)
	b = append(b, `,"captured":`...)
	b = strconv.AppendInt(b, h.Captured, 10)
	b = append(b, `,"status":"`...)
	b = append(b, h.Status.String()...)
	b = append(b, '"')
	if !h.ExpiresAt.IsZero() {
		b = append(b, `,"expires_at":"`...)
		b = h.ExpiresAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = appendMeta(b, h.Metadata)
	b = append(b, '}')
	suffix := ".placed"
	if topic == TopicHoldReleased {
		suffix = ".released"
	}
	return storage.Message{
		EventID: "ledger.hold." + h.ID + suffix, Tenant: tenant, Topic: topic,
		AggregateType: AggregateHold, AggregateID: h.ID, Payload: b, CreatedAt: at,
	}
}

func accountEvent(tenant storage.TenantID, a *Account, at time.Time, eventID string) storage.Message {
	b := make([]byte, 0, 128)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"overdraft":"`...)
	b = append(b, a.Overdraft.Kind.String()...)
	b = append(b, '"')
	if a.Overdraft.Kind == BoundedOverdraft {
		b = append(b, `,"limit":"`...)
		b = a.Overdraft.Limit.AppendFixed(b)
		b = append(b, `","asset":"`...)
		b = append(b, a.Overdraft.Limit.Currency().Code()...)
		b = append(b, '"')
	}
	b = appendMeta(b, a.Metadata)
	b = append(b, '}')
	return storage.Message{
		EventID: "ledger.account." + eventID, Tenant: tenant, Topic: TopicAccountOpened,
		AggregateType: AggregateAccount, AggregateID: a.ID, Payload: b, CreatedAt: at,
	}
}

func appendMeta(b []byte, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	b = append(b, `,"metadata":{`...)
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, as an Encoder with SetEscapeHTML(false) does.
func appendJSONString(b []byte, s string) []byte { return jsontext.AppendString(b, s, false) }
