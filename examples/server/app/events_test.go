package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/reward"
)

func orderEvent(id, user string, amount string, typ reward.EventType, orig string) string {
	body := fmt.Sprintf(`{"id": %q, "type": %q, "time": "2026-03-01T10:00:00Z", "user_id": %q`, id, typ, user)
	if orig != "" {
		body += fmt.Sprintf(`, "original_id": %q`, orig)
	}
	if amount != "" {
		body += fmt.Sprintf(`, "order_id": "O-%s", "amount": {"amount": %q, "currency": "USD"}`, id, amount)
	}
	return body + "}"
}

// TestOrderEventsOverNATS publishes order events with duplicates and a
// reverse to JetStream; the App counts each once into points, the challenge
// and the ranking, and relays its outbox to NATS with Nats-Msg-Id.
func TestOrderEventsOverNATS(t *testing.T) {
	ns := startNATS(t)
	nc := connectNATS(t, ns)
	env := newTestEnv(t, func(c *Config) { c.NATS = nc; c.BackgroundInterval = 50 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.app.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	admin := env.as(t, tenantA, RoleAdmin, "ops")
	alice := env.as(t, tenantA, RoleMember, "alice")
	alice.ok("POST", "/api/v1/members", `{"email": "alice@example.com", "name": "Alice"}`, nil)
	// Before the consumer made the streams, publishing may race; wait.
	require.Eventually(t, func() bool {
		return admin.do("POST", "/api/v1/events", orderEvent("e1", "alice", "120.50", reward.OrderInstalled, "")).Status == http.StatusAccepted
	}, 10*time.Second, 50*time.Millisecond)
	var ack struct {
		Duplicate bool `json:"duplicate"`
	}
	admin.ok("POST", "/api/v1/events", orderEvent("e1", "alice", "120.50", reward.OrderInstalled, ""), &ack)
	assert.True(t, ack.Duplicate, "JetStream drops the same Nats-Msg-Id")
	// A duplicate past the stream's dedup (published raw with another
	// message ID) is dropped by the App's idempotency.
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.PublishMsg(t.Context(), &nats.Msg{Subject: "orders.acme", Data: []byte(orderEvent("e1", "alice", "120.50", reward.OrderInstalled, "")),
		Header: nats.Header{jetstream.MsgIDHeader: []string{"other-id"}}})
	require.NoError(t, err)
	admin.ok("POST", "/api/v1/events", orderEvent("e2", "alice", "30.00", reward.OrderInstalled, ""), nil)
	admin.ok("POST", "/api/v1/events", orderEvent("e3", "alice", "10.00", reward.OrderInstalled, ""), nil)
	// A reverse published before its forward waits for it.
	admin.ok("POST", "/api/v1/events", orderEvent("r4", "alice", "", reward.Refund, "e4"), nil)
	admin.ok("POST", "/api/v1/events", orderEvent("e4", "alice", "50.00", reward.OrderInstalled, ""), nil)
	// Garbage is refused at the door; a raw one is terminated by the consumer.
	r := admin.do("POST", "/api/v1/events", `{"id": "x", "type": "nope"}`)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	_, err = js.Publish(t.Context(), "orders.acme", []byte(`{not json`))
	require.NoError(t, err)

	// 120 + 30 + 10 (+50 -50) base points, and 100 for the 3-order tier
	// (4 orders less the refunded one keep it).
	// (260 is also the balance before e4 and r4: wait for the reversal.)
	require.Eventually(t, func() bool {
		var hist struct{ Entries []HistoryEntry }
		alice.ok("GET", "/api/v1/members/me/history", nil, &hist)
		for _, e := range hist.Entries {
			if e.Kind == "reversal" {
				return e.Balance == 260 && hist.Entries[0].Balance == 260
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond)
	var p MemberProfile
	alice.ok("GET", "/api/v1/members/me", nil, &p)
	assert.EqualValues(t, 260, p.Points)
	assert.EqualValues(t, 260, p.LifetimePoints, "the reverse took its accrual out of lifetime points")
	var prog []struct {
		Campaign string
		Value    int64
		Rank     int
	}
	alice.ok("GET", "/api/v1/members/me/progress", nil, &prog)
	require.Len(t, prog, 2)
	assert.EqualValues(t, 3, prog[0].Value, "order-challenge: 4 orders, one refunded")
	assert.EqualValues(t, 16050, prog[1].Value, "top-spenders in cents")
	var board []reward.Standing
	env.as(t, tenantA, RoleMember, "bob").ok("GET", "/api/v1/leaderboards/top-spenders", nil, &board)
	require.Len(t, board, 1)
	assert.Equal(t, "al***", board[0].Participant, "other members are masked")

	// The outbox reaches the REWARDKIT stream with Nats-Msg-Id = event ID.
	require.Eventually(t, func() bool {
		n, _, err := outboxLag(t.Context(), env.app.store, 1000)
		return err == nil && n == 0
	}, 15*time.Second, 50*time.Millisecond)
	stream, err := js.Stream(t.Context(), StreamEvents)
	require.NoError(t, err)
	last, err := stream.GetLastMsgForSubject(t.Context(), "rewardkit.acme.>")
	require.NoError(t, err)
	assert.NotEmpty(t, last.Header.Get(jetstream.MsgIDHeader))

	resp, err := http.Get(env.srv.URL + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`rewardkit_events_handled_total{result="counted"} 5`, `rewardkit_events_handled_total{result="duplicate"} 1`,
		`rewardkit_events_handled_total{result="invalid"} 1`, "rewardkit_outbox_pending 0", "rewardkit_outbox_published_total",
		"rewardkit_ledger_postings_total", "rewardkit_http_request_duration_seconds_bucket"} {
		assert.True(t, strings.Contains(string(body), want), "metrics hold %s", want)
	}
}

// TestReverseAfterSpend: a reverse whose points the member already spent
// takes back what is left of nothing, records the shortfall and commits
// (the event stream is not blocked); the lifetime keeps the accrual.
func TestReverseAfterSpend(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := t.Context()
	alice := env.as(t, tenantA, RoleMember, "alice")
	alice.ok("POST", "/api/v1/members", `{"email": "alice@example.com", "name": "Alice"}`, nil)
	usd := func(s string) money.Amount { return money.MustParse(s, money.USD) }
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	dup, err := env.app.HandleOrderEvent(ctx, tenantA, reward.Event{ID: "f1", Type: reward.OrderInstalled, Time: at, UserID: "alice", OrderID: "O1", Amount: usd("80.00")})
	require.NoError(t, err)
	require.False(t, dup)
	alice.ok("POST", "/api/v1/members/me/points/redeem", `{"points": 60}`, nil)

	dup, err = env.app.HandleOrderEvent(ctx, tenantA, reward.Event{ID: "r1", Type: reward.Refund, Time: at.Add(time.Hour), UserID: "alice", OriginalID: "f1"})
	require.NoError(t, err, "a shortfall does not block the stream")
	require.False(t, dup)
	var p MemberProfile
	alice.ok("GET", "/api/v1/members/me", nil, &p)
	assert.EqualValues(t, 20, p.Points, "nothing taken back")
	assert.EqualValues(t, 80, p.LifetimePoints)
	short, err := env.app.store.Counter(ctx, tenantA, "clawback-shortfall/alice")
	require.NoError(t, err)
	assert.EqualValues(t, 80, short, "the shortfall is recorded for review")
}
