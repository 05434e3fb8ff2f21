package settlement

import (
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

// The Service's lifecycle table answers what a fresh FSM answers, for
// every state and event (EventResume included: the FSM refuses it).
func TestLifecycleMatchesFSM(t *testing.T) {
	l := newLifecycle()
	events := []OrderEvent{EventPay, EventFulfil, EventComplete, EventCancel, EventRefund, EventRefunded, EventResume, EventClose}
	for _, from := range OrderStates() {
		for _, ev := range events {
			want, wantErr := transition("o1", from, ev)
			got, gotErr := l.next("o1", from, ev)
			assert.Equal(t, want, got, "%s on %s", ev, from)
			assert.Equal(t, wantErr, gotErr, "%s on %s", ev, from)
		}
		_, err := l.resume("o1", from)
		_, refundable := l.Next(from, string(EventRefund))
		assert.Equal(t, refundable, err == nil, "resume to %s", from)
	}
}

// The hand-built order event is byte for byte what encoding/json writes,
// for plain IDs and for strings that need escapes.
func TestOrderEventJSON(t *testing.T) {
	at := time.Date(2025, 8, 11, 10, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	cases := []orderEvent{
		{Event: "OrderCreated", Tenant: "shop", OrderID: "o1", UserID: "u1", State: StateCreated, Currency: "USD", Total: "96.37", Version: 1, At: at},
		{Event: "OrderRefunded", Tenant: "shop", OrderID: "o<1>&\"x\"", UserID: "ü\u2028\x01\\", State: StateRefunded, Currency: "USD",
			Total: "0.00", Amount: "-1.05", Version: -7, At: at.UTC()},
		{Event: "e", Tenant: "t", OrderID: "bad\xffutf8", At: time.Time{}},
		{Event: "far", At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, ev := range cases {
		want, wantErr := json.Marshal(ev)
		got, gotErr := appendOrderEvent(nil, &ev)
		if wantErr != nil {
			require.Error(t, gotErr)
			continue
		}
		require.NoError(t, gotErr)
		assert.Equal(t, string(want), string(got))
	}
	rapid.Check(t, func(t *rapid.T) {
		ev := orderEvent{
			Event: rapid.String().Draw(t, "event"), Tenant: storage.TenantID(rapid.String().Draw(t, "tenant")),
			OrderID: rapid.String().Draw(t, "order"), UserID: rapid.String().Draw(t, "user"),
			State: OrderState(rapid.String().Draw(t, "state")), Currency: rapid.StringN(0, 3, 3).Draw(t, "cur"),
			Total: rapid.String().Draw(t, "total"), Amount: rapid.String().Draw(t, "amount"),
			Version: rapid.Int64().Draw(t, "version"),
			At:      time.Unix(rapid.Int64Range(-62135596800, 253402300799).Draw(t, "sec"), rapid.Int64Range(0, 999999999).Draw(t, "ns")).UTC(),
		}
		want, err := json.Marshal(ev)
		require.NoError(t, err)
		got, err := appendOrderEvent(nil, &ev)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	})
}

// fixed writes what StringFixed writes, for every currency scale and
// sign, and for amounts with more decimals than their currency.
func TestFixedMatchesStringFixed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		scale := rapid.Int32Range(0, 18).Draw(t, "scale")
		cur, err := money.NewCurrency("XTS", scale)
		require.NoError(t, err)
		v := rapid.OneOf(rapid.Int64(), rapid.Int64Range(-1000, 1000)).Draw(t, "v")
		a := money.FromMinor(v, cur)
		require.Equal(t, a.StringFixed(), fixed(a))
		odd := money.New(decimal.New(v, -scale-1), cur) // one decimal too many
		require.Equal(t, odd.StringFixed(), fixed(odd))
	})
}

// couponCart (integers) and CouponCart's decimal way agree on every
// amount, also for prices written with fewer decimals than the currency.
func TestCouponCartFromMinor(t *testing.T) {
	usd := func(s string) money.Amount { return money.MustParse(s, money.USD) }
	c := Cart{Currency: money.USD, Shipping: usd("8"), Lines: []Line{
		{ID: "a", UnitPrice: usd("19.9"), Quantity: 3}, {ID: "b", UnitPrice: usd("0"), Quantity: 1},
		{ID: "c", UnitPrice: money.New(decimal.New(125, 0), money.USD), Quantity: 7}}}
	pl, _, err := c.convert(nil)
	require.NoError(t, err)
	got := couponCart(c, pl)
	sub := money.Zero(money.USD)
	for i, l := range c.Lines {
		want := l.UnitPrice.Mul(decimal.NewFromInt(int64(l.Quantity)))
		assert.True(t, want.Equal(got.Lines[i].Amount), "line %s: %s, want %s", l.ID, got.Lines[i].Amount, want)
		assert.Equal(t, want.StringFixed(), got.Lines[i].Amount.StringFixed())
		sub, err = sub.Add(want)
		require.NoError(t, err)
	}
	assert.True(t, sub.Equal(got.Subtotal))
	assert.True(t, c.Shipping.Equal(got.Shipping))
	assert.Equal(t, got, CouponCart(c))
}
