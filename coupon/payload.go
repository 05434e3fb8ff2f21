package coupon

import (
	"time"

	"github.com/rewardkit/rewardkit/internal/jsontext"
)

// appendAuditJSON appends e as JSON, byte for byte what encoding/json
// writes for an AuditEntry (same field order, omitempty, escaping, time
// format), without reflection: the outbox payload of every transition is
// on the claim's hot path. TestAuditJSONMatchesEncodingJSON keeps the two
// in step.
func appendAuditJSON(b []byte, e *AuditEntry) []byte {
	b = append(b, `{"tenant":`...)
	b = appendJSONString(b, string(e.Tenant))
	b = append(b, `,"event_id":`...)
	b = appendJSONString(b, e.EventID)
	b = append(b, `,"coupon_id":`...)
	b = appendJSONString(b, e.CouponID)
	b = append(b, `,"template_id":`...)
	b = appendJSONString(b, e.TemplateID)
	if e.UserID != "" {
		b = append(b, `,"user_id":`...)
		b = appendJSONString(b, e.UserID)
	}
	b = append(b, `,"event":`...)
	b = appendJSONString(b, string(e.Event))
	b = append(b, `,"from":`...)
	b = appendJSONString(b, string(e.From))
	b = append(b, `,"to":`...)
	b = appendJSONString(b, string(e.To))
	if e.Actor != "" {
		b = append(b, `,"actor":`...)
		b = appendJSONString(b, e.Actor)
	}
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, e.Reason)
	}
	if e.OrderID != "" {
		b = append(b, `,"order_id":`...)
		b = appendJSONString(b, e.OrderID)
	}
	b = append(b, `,"at":"`...)
	b = e.At.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// appendJSONString appends s as a JSON string, HTML-escaped as json.Marshal does.
func appendJSONString(b []byte, s string) []byte { return jsontext.AppendString(b, s, true) }
