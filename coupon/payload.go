package coupon

import (
	"strconv"
	"time"
	"unicode/utf8"
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

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json does
// by default: HTML-safe (<, >, & escaped), invalid UTF-8 as U+FFFD, and
// U+2028/U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = strconv.AppendInt(b, int64(r&0xf), 16)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
