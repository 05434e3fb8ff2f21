package settlement

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/rewardkit/rewardkit/internal/jsontext"
	"github.com/rewardkit/rewardkit/money"
)

// appendOrderEvent appends the JSON of ev, byte for byte what
// encoding/json writes for it (a test holds the two together), without
// reflection: an order event is written on every order step, inside the
// step's transaction.
func appendOrderEvent(b []byte, ev *orderEvent) ([]byte, error) {
	if y := ev.At.Year(); y < 0 || y > 9999 {
		// outside what RFC 3339 can write: let encoding/json say so
		return json.Marshal(ev)
	}
	b = appendJSONField(b, `{"event":`, ev.Event)
	b = appendJSONField(b, `,"tenant":`, string(ev.Tenant))
	b = appendJSONField(b, `,"order_id":`, ev.OrderID)
	b = appendJSONField(b, `,"user_id":`, ev.UserID)
	b = appendJSONField(b, `,"state":`, string(ev.State))
	b = appendJSONField(b, `,"currency":`, ev.Currency)
	b = appendJSONField(b, `,"total":`, ev.Total)
	if ev.Amount != "" {
		b = appendJSONField(b, `,"amount":`, ev.Amount)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, ev.Version, 10)
	b = append(b, `,"at":"`...)
	b = ev.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return b, nil
}

// appendJSONField appends key (the quoted name, with its separator and
// colon) and s as a JSON string, HTML-escaped as json.Marshal does.
func appendJSONField(b []byte, key, s string) []byte {
	return jsontext.AppendString(append(b, key...), s, true)
}

// fixed is a.StringFixed(), written from the minor units without decimal
// formatting when a holds exactly its currency's decimals (an order's
// amounts do).
func fixed(a money.Amount) string {
	var buf [48]byte
	return string(a.AppendFixed(buf[:0]))
}
