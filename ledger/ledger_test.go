package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

const tenant storage.TenantID = "shop"

var points = money.MustCurrency("POINTS", 0)

type fixture struct {
	l     *ledger.Ledger
	s     *memory.Store
	clock *storage.FakeClock
}

func setup(t testing.TB) fixture {
	t.Helper()
	s := memory.MustNew()
	reg, err := money.NewRegistry(points)
	require.NoError(t, err)
	clock := storage.NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	l, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, Clock: clock, Assets: reg, ExpiryAccount: "platform:expired"})
	require.NoError(t, err)
	return fixture{l: l, s: s, clock: clock}
}

func pts(n int64) money.Amount { return money.FromMinor(n, points) }

func usd(s string) money.Amount { return money.MustParse(s, money.USD) }

func (f fixture) move(t *testing.T, key, from, to string, amt money.Amount) *ledger.Transaction {
	t.Helper()
	tx, err := f.l.Transfer(context.Background(), tenant, ledger.TransferRequest{Key: key,
		Postings: []ledger.Posting{{Source: from, Destination: to, Amount: amt}}})
	require.NoError(t, err)
	return tx
}

func (f fixture) posted(t *testing.T, account string, c money.Currency) int64 {
	t.Helper()
	b, err := f.l.Balance(context.Background(), tenant, account, c)
	require.NoError(t, err)
	m, err := b.Posted.Minor()
	require.NoError(t, err)
	return m
}

func (f fixture) available(t *testing.T, account string, c money.Currency) int64 {
	t.Helper()
	b, err := f.l.Balance(context.Background(), tenant, account, c)
	require.NoError(t, err)
	m, err := b.Available.Minor()
	require.NoError(t, err)
	return m
}

func (f fixture) outbox(t *testing.T) []storage.Message {
	t.Helper()
	var out []storage.Message
	for p := range storage.OutboxPartitions {
		msgs, err := f.s.PendingOutbox(context.Background(), p, 1000)
		require.NoError(t, err)
		out = append(out, msgs...)
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	_, err := ledger.New(ledger.Config{})
	require.ErrorIs(t, err, ledger.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "Store")
	assert.Contains(t, err.Error(), "Tx")
	s := memory.MustNew()
	_, err = ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, ExpiryAccount: "bad account"})
	require.ErrorIs(t, err, ledger.ErrInvalidConfig)
}

func TestTransfer(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tx := f.move(t, "issue-1", ledger.World, "member:42:points", pts(100))
	assert.Equal(t, ledger.KindTransfer, tx.Kind)
	assert.Equal(t, int64(100), f.posted(t, "member:42:points", points))
	assert.Equal(t, int64(-100), f.posted(t, ledger.World, points))

	acc, err := f.l.Account(ctx, tenant, "member:42:points")
	require.NoError(t, err, "created on first use")
	assert.Equal(t, ledger.NoOverdraft, acc.Overdraft.Kind)

	msgs := f.outbox(t)
	require.Len(t, msgs, 1)
	assert.Equal(t, ledger.TopicTransactionCommitted, msgs[0].Topic)
	assert.Equal(t, tx.ID, msgs[0].AggregateID)
	assert.JSONEq(t, fmt.Sprintf(`{"id":%q,"key":"issue-1","kind":"transfer","at":"2025-03-01T12:00:00Z",
		"postings":[{"source":"world","destination":"member:42:points","asset":"POINTS","amount":100}]}`, tx.ID), string(msgs[0].Payload))

	got, err := f.l.TransactionByID(ctx, tenant, tx.ID)
	require.NoError(t, err)
	assert.Equal(t, tx.Postings[0].Amount.String(), got.Postings[0].Amount.String())
	got, err = f.l.TransactionByKey(ctx, tenant, "issue-1")
	require.NoError(t, err)
	assert.Equal(t, tx.ID, got.ID)
	_, err = f.l.TransactionByKey(ctx, tenant, "nope")
	require.ErrorIs(t, err, ledger.ErrTransactionNotFound)
	_, err = f.l.TransactionByID(ctx, "other", tx.ID)
	require.ErrorIs(t, err, ledger.ErrTransactionNotFound, "tenants are isolated")
}

func TestIdempotentKey(t *testing.T) {
	f := setup(t)
	first := f.move(t, "k", ledger.World, "member:1", pts(10))
	again := f.move(t, "k", ledger.World, "member:1", pts(10))
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, int64(10), f.posted(t, "member:1", points), "a replay moves nothing")

	_, err := f.l.Transfer(context.Background(), tenant, ledger.TransferRequest{Key: "k",
		Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: pts(11)}}})
	require.ErrorIs(t, err, ledger.ErrKeyReused)
	require.ErrorIs(t, err, storage.ErrIdempotencyMismatch)
	assert.Len(t, f.outbox(t), 1)
}

func TestBadInputWritesNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.move(t, "seed", ledger.World, "member:1", pts(5))
	loose, err := money.ParseLoose("1.005", money.USD)
	require.NoError(t, err)
	post := func(key string, ps ...ledger.Posting) error {
		_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: key, Postings: ps})
		return err
	}
	cases := []struct {
		name string
		want error
		run  func() error
	}{
		{"unknown asset", ledger.ErrUnknownAsset, func() error {
			return post("a", ledger.Posting{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(1, money.MustCurrency("MILES", 0))})
		}},
		{"asset with another scale", ledger.ErrUnknownAsset, func() error {
			return post("a", ledger.Posting{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(1, money.MustCurrency("POINTS", 2))})
		}},
		{"zero", ledger.ErrInvalidAmount, func() error {
			return post("a", ledger.Posting{Source: ledger.World, Destination: "member:1", Amount: pts(0)})
		}},
		{"negative", ledger.ErrInvalidAmount, func() error {
			return post("a", ledger.Posting{Source: ledger.World, Destination: "member:1", Amount: pts(-1)})
		}},
		{"too precise", ledger.ErrInvalidAmount, func() error {
			return post("a", ledger.Posting{Source: ledger.World, Destination: "member:1", Amount: loose})
		}},
		{"no amount", ledger.ErrUnknownAsset, func() error {
			return post("a", ledger.Posting{Source: ledger.World, Destination: "member:1"})
		}},
		{"no postings", ledger.ErrInvalidRequest, func() error { return post("a") }},
		{"no key", ledger.ErrInvalidRequest, func() error {
			return post("", ledger.Posting{Source: ledger.World, Destination: "member:1", Amount: pts(1)})
		}},
		{"to itself", ledger.ErrInvalidRequest, func() error {
			return post("a", ledger.Posting{Source: "member:1", Destination: "member:1", Amount: pts(1)})
		}},
		{"bad account", ledger.ErrInvalidRequest, func() error {
			return post("a", ledger.Posting{Source: "member 1", Destination: "member:2", Amount: pts(1)})
		}},
		{"unbalanced legs", ledger.ErrUnbalanced, func() error {
			_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "a", Legs: []ledger.Leg{
				{Account: ledger.World, Amount: pts(-3)}, {Account: "member:1", Amount: pts(2)}}})
			return err
		}},
		{"insufficient funds", ledger.ErrInsufficientFunds, func() error {
			return post("a", ledger.Posting{Source: "member:1", Destination: "member:2", Amount: pts(6)})
		}},
		{"hold on unknown account", ledger.ErrUnknownAccount, func() error {
			_, err := f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "h", Account: "member:9", Destination: "shop", Amount: pts(1)})
			return err
		}},
		{"hold beyond funds", ledger.ErrInsufficientFunds, func() error {
			_, err := f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "h", Account: "member:1", Destination: "shop", Amount: pts(6)})
			return err
		}},
		{"bad tenant", storage.ErrInvalidTenant, func() error {
			_, err := f.l.Transfer(ctx, "", ledger.TransferRequest{Key: "a", Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: pts(1)}}})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorIs(t, c.run(), c.want)
			assert.Equal(t, int64(5), f.posted(t, "member:1", points))
			assert.Equal(t, int64(5), f.available(t, "member:1", points))
			assert.Len(t, f.outbox(t), 1, "only the seed's message")
			_, err := f.l.Account(ctx, tenant, "member:2")
			assert.ErrorIs(t, err, ledger.ErrUnknownAccount, "no account created by a rejected command")
		})
	}
}

func TestOverdraftPolicies(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, err := f.l.OpenAccount(ctx, tenant, ledger.Account{ID: "merchant:1", Overdraft: ledger.Overdraft{Kind: ledger.BoundedOverdraft, Limit: usd("20.00")}})
	require.NoError(t, err)
	_, err = f.l.OpenAccount(ctx, tenant, ledger.Account{ID: "platform:clearing", Overdraft: ledger.Overdraft{Kind: ledger.UnboundedOverdraft}})
	require.NoError(t, err)

	f.move(t, "m1", "merchant:1", "platform:revenue", usd("20.00"))
	_, err = f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "m2", Postings: []ledger.Posting{{Source: "merchant:1", Destination: "platform:revenue", Amount: usd("0.01")}}})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	_, err = f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "m3", Postings: []ledger.Posting{{Source: "merchant:1", Destination: "platform:revenue", Amount: pts(1)}}})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "the bound is in USD only")
	f.move(t, "c1", "platform:clearing", "merchant:2", usd("1000000.00"))
	assert.Equal(t, int64(-100000000), f.posted(t, "platform:clearing", money.USD))

	_, err = f.l.OpenAccount(ctx, tenant, ledger.Account{ID: "x", Overdraft: ledger.Overdraft{Kind: ledger.BoundedOverdraft}})
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
	_, err = f.l.OpenAccount(ctx, tenant, ledger.Account{ID: "x", Overdraft: ledger.Overdraft{Kind: 9}})
	require.ErrorIs(t, err, ledger.ErrInvalidRequest)

	// Tightening the policy moves the floor of existing balances.
	_, err = f.l.OpenAccount(ctx, tenant, ledger.Account{ID: "merchant:1", Metadata: map[string]string{"name": "Acme"}})
	require.NoError(t, err)
	f.move(t, "m4", ledger.World, "merchant:1", usd("25.00"))
	_, err = f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "m5", Postings: []ledger.Posting{{Source: "merchant:1", Destination: "platform:revenue", Amount: usd("5.01")}}})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	acc, err := f.l.Account(ctx, tenant, "merchant:1")
	require.NoError(t, err)
	assert.Equal(t, "Acme", acc.Metadata["name"])
}

func TestLegs(t *testing.T) {
	f := setup(t)
	f.move(t, "fund", ledger.World, "customer:1", usd("100.00"))
	tx, err := f.l.Transfer(context.Background(), tenant, ledger.TransferRequest{Key: "order-1", Legs: []ledger.Leg{
		{Account: "customer:1", Amount: usd("-100.00")},
		{Account: "merchant:1", Amount: usd("95.00")},
		{Account: "platform:revenue", Amount: usd("5.00")},
	}})
	require.NoError(t, err)
	require.Len(t, tx.Postings, 2)
	assert.Equal(t, "customer:1", tx.Postings[0].Source)
	assert.Equal(t, "95.00", tx.Postings[0].Amount.StringFixed())
	assert.Equal(t, int64(9500), f.posted(t, "merchant:1", money.USD))
	assert.Equal(t, int64(500), f.posted(t, "platform:revenue", money.USD))
	assert.Equal(t, int64(0), f.posted(t, "customer:1", money.USD))
}

func TestBatch(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	req := func(key string, n int64) ledger.TransferRequest {
		return ledger.TransferRequest{Key: key, Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: pts(n)}}}
	}
	txs, err := f.l.Commit(ctx, tenant, []ledger.TransferRequest{req("a", 1), req("b", 2), req("a", 1)})
	require.NoError(t, err)
	require.Len(t, txs, 3)
	assert.Equal(t, txs[0].ID, txs[2].ID, "a key repeated in a batch returns the first")
	assert.Equal(t, int64(3), f.posted(t, "member:1", points))

	// one failing transfer fails the whole batch
	spend := ledger.TransferRequest{Key: "d", Postings: []ledger.Posting{{Source: "member:1", Destination: "shop", Amount: pts(100)}}}
	_, err = f.l.Commit(ctx, tenant, []ledger.TransferRequest{req("c", 5), spend})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	assert.Contains(t, err.Error(), "transaction 1")
	assert.Equal(t, int64(3), f.posted(t, "member:1", points))
	_, err = f.l.TransactionByKey(ctx, tenant, "c")
	require.ErrorIs(t, err, ledger.ErrTransactionNotFound)

	_, err = f.l.Commit(ctx, tenant, []ledger.TransferRequest{req("e", 1), req("e", 2)})
	require.ErrorIs(t, err, ledger.ErrKeyReused)
	_, err = f.l.Commit(ctx, tenant, nil)
	require.ErrorIs(t, err, ledger.ErrInvalidRequest)

	// replays inside a batch
	txs2, err := f.l.Commit(ctx, tenant, []ledger.TransferRequest{req("b", 2), req("f", 4)})
	require.NoError(t, err)
	assert.Equal(t, txs[1].ID, txs2[0].ID)
	assert.Equal(t, int64(7), f.posted(t, "member:1", points))
}

func TestHolds(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.move(t, "load", ledger.World, "giftcard:1", usd("50.00"))

	h, err := f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "auth-1", Account: "giftcard:1", Destination: "merchant:1", Amount: usd("30.00")})
	require.NoError(t, err)
	assert.Equal(t, ledger.HoldOpen, h.Status)
	b, err := f.l.Balance(ctx, tenant, "giftcard:1", money.USD)
	require.NoError(t, err)
	assert.Equal(t, "50.00", b.Posted.StringFixed())
	assert.Equal(t, "30.00", b.Held.StringFixed())
	assert.Equal(t, "20.00", b.Available.StringFixed())

	again, err := f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "auth-1", Account: "giftcard:1", Destination: "merchant:1", Amount: usd("30.00")})
	require.NoError(t, err)
	assert.Equal(t, h.ID, again.ID)
	_, err = f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "auth-1", Account: "giftcard:1", Destination: "merchant:1", Amount: usd("31.00")})
	require.ErrorIs(t, err, ledger.ErrKeyReused)

	_, err = f.move2(ctx, "spend", "giftcard:1", "x", usd("20.01"))
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds, "held money is not available")

	c1, err := f.l.Capture(ctx, tenant, h.ID, ledger.CaptureRequest{Key: "cap-1", Amount: usd("10.00")})
	require.NoError(t, err)
	assert.Equal(t, ledger.KindCapture, c1.Kind)
	assert.Equal(t, h.ID, c1.Hold)
	c1again, err := f.l.Capture(ctx, tenant, h.ID, ledger.CaptureRequest{Key: "cap-1", Amount: usd("10.00")})
	require.NoError(t, err)
	assert.Equal(t, c1.ID, c1again.ID)
	_, err = f.l.Capture(ctx, tenant, h.ID, ledger.CaptureRequest{Key: "cap-2", Amount: usd("20.01")})
	require.ErrorIs(t, err, ledger.ErrOverCapture)
	_, err = f.l.Capture(ctx, tenant, h.ID, ledger.CaptureRequest{Key: "cap-2", Amount: pts(1)})
	require.ErrorIs(t, err, ledger.ErrInvalidAmount)
	assert.Equal(t, int64(4000), f.posted(t, "giftcard:1", money.USD))
	assert.Equal(t, int64(2000), f.available(t, "giftcard:1", money.USD))
	assert.Equal(t, int64(1000), f.posted(t, "merchant:1", money.USD))

	v, err := f.l.Void(ctx, tenant, h.ID)
	require.NoError(t, err)
	assert.Equal(t, ledger.HoldVoided, v.Status)
	assert.Equal(t, "10.00", v.Captured.StringFixed())
	assert.Equal(t, int64(4000), f.available(t, "giftcard:1", money.USD))
	_, err = f.l.Void(ctx, tenant, h.ID)
	require.NoError(t, err, "voiding twice is harmless")
	_, err = f.l.Capture(ctx, tenant, h.ID, ledger.CaptureRequest{Key: "cap-3"})
	require.ErrorIs(t, err, ledger.ErrHoldClosed)
	_, err = f.l.Capture(ctx, tenant, "nope", ledger.CaptureRequest{Key: "cap-4"})
	require.ErrorIs(t, err, ledger.ErrHoldNotFound)

	// full capture closes; an expired hold cannot be captured and is released by the sweep
	h2, err := f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "auth-2", Account: "giftcard:1", Destination: "merchant:1", Amount: usd("5.00")})
	require.NoError(t, err)
	_, err = f.l.Capture(ctx, tenant, h2.ID, ledger.CaptureRequest{Key: "cap-5"})
	require.NoError(t, err)
	got, err := f.l.HoldByID(ctx, tenant, h2.ID)
	require.NoError(t, err)
	assert.Equal(t, ledger.HoldCaptured, got.Status)
	_, err = f.l.Void(ctx, tenant, h2.ID)
	require.ErrorIs(t, err, ledger.ErrHoldClosed)

	h3, err := f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "auth-3", Account: "giftcard:1", Destination: "merchant:1", Amount: usd("5.00"), ExpiresAt: f.clock.Now().Add(time.Hour)})
	require.NoError(t, err)
	f.clock.Advance(time.Hour)
	_, err = f.l.Capture(ctx, tenant, h3.ID, ledger.CaptureRequest{Key: "cap-6"})
	require.ErrorIs(t, err, ledger.ErrHoldExpired)
	assert.Equal(t, int64(3000), f.available(t, "giftcard:1", money.USD), "still held until released")
	res, err := f.l.SweepExpired(ctx, tenant, f.clock.Now(), 100)
	require.NoError(t, err)
	assert.Equal(t, 1, res.HoldsReleased)
	assert.Equal(t, int64(3500), f.available(t, "giftcard:1", money.USD))
	got, err = f.l.HoldByID(ctx, tenant, h3.ID)
	require.NoError(t, err)
	assert.Equal(t, ledger.HoldExpired, got.Status)
	assert.True(t, got.Remaining().IsZero())
}

func (f fixture) move2(ctx context.Context, key, from, to string, amt money.Amount) (*ledger.Transaction, error) {
	return f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: key, Postings: []ledger.Posting{{Source: from, Destination: to, Amount: amt}}})
}

func TestReverse(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.move(t, "fund", ledger.World, "customer:1", usd("100.00"))
	order, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "order", Legs: []ledger.Leg{
		{Account: "customer:1", Amount: usd("-100.00")}, {Account: "merchant:1", Amount: usd("90.00")}, {Account: "platform", Amount: usd("10.00")}}})
	require.NoError(t, err)

	part, err := f.l.Reverse(ctx, tenant, order.ID, ledger.ReverseRequest{Key: "refund-1", Amounts: []money.Amount{usd("45.00"), usd("5.00")}})
	require.NoError(t, err)
	assert.Equal(t, ledger.KindReversal, part.Kind)
	assert.Equal(t, order.ID, part.Reverses)
	assert.Equal(t, int64(5000), f.posted(t, "customer:1", money.USD))

	_, err = f.l.Reverse(ctx, tenant, order.ID, ledger.ReverseRequest{Key: "refund-2", Amounts: []money.Amount{usd("45.01"), {}}})
	require.ErrorIs(t, err, ledger.ErrOverReversal)
	_, err = f.l.Reverse(ctx, tenant, order.ID, ledger.ReverseRequest{Key: "refund-2", Amounts: []money.Amount{usd("1.00")}})
	require.ErrorIs(t, err, ledger.ErrInvalidRequest)
	_, err = f.l.Reverse(ctx, tenant, "nope", ledger.ReverseRequest{Key: "refund-2"})
	require.ErrorIs(t, err, ledger.ErrTransactionNotFound)

	rest, err := f.l.Reverse(ctx, tenant, order.ID, ledger.ReverseRequest{Key: "refund-2"})
	require.NoError(t, err)
	assert.Equal(t, "45.00", rest.Postings[0].Amount.StringFixed())
	assert.Equal(t, int64(10000), f.posted(t, "customer:1", money.USD))
	again, err := f.l.Reverse(ctx, tenant, order.ID, ledger.ReverseRequest{Key: "refund-2"})
	require.NoError(t, err, "a replay of the reversal that took the rest")
	assert.Equal(t, rest.ID, again.ID)
	_, err = f.l.Reverse(ctx, tenant, order.ID, ledger.ReverseRequest{Key: "refund-3"})
	require.ErrorIs(t, err, ledger.ErrOverReversal)

	orig, err := f.l.TransactionByID(ctx, tenant, order.ID)
	require.NoError(t, err)
	assert.Equal(t, "90.00", orig.Postings[0].Amount.StringFixed(), "the original is unchanged")
	assert.Equal(t, "90.00", orig.Reversed[0].StringFixed())
	assert.Equal(t, "10.00", orig.Reversed[1].StringFixed())
}

func TestExpiringLots(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	day := 24 * time.Hour
	now := f.clock.Now()
	credit := func(key string, n int64, exp time.Time) {
		_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: key, Postings: []ledger.Posting{
			{Source: ledger.World, Destination: "member:1", Amount: pts(n), ExpiresAt: exp}}})
		require.NoError(t, err)
	}
	credit("late", 100, now.Add(30*day))
	credit("early", 50, now.Add(10*day))
	credit("forever", 20, time.Time{})
	by := func(d time.Time) int64 {
		a, err := f.l.ExpiringBy(ctx, tenant, "member:1", points, d)
		require.NoError(t, err)
		m, _ := a.Minor()
		return m
	}
	assert.Equal(t, int64(50), by(now.Add(10*day)))
	assert.Equal(t, int64(150), by(now.Add(30*day)))

	f.move(t, "spend", "member:1", "shop", pts(60)) // 50 of early, 10 of late
	assert.Equal(t, int64(0), by(now.Add(10*day)))
	assert.Equal(t, int64(90), by(now.Add(30*day)))

	f.clock.Set(now.Add(31 * day))
	res, err := f.l.SweepExpired(ctx, tenant, f.clock.Now(), 100)
	require.NoError(t, err)
	require.Len(t, res.Transactions, 1)
	assert.Equal(t, ledger.KindExpiry, res.Transactions[0].Kind)
	assert.Equal(t, "platform:expired", res.Transactions[0].Postings[0].Destination)
	assert.Equal(t, int64(20), f.posted(t, "member:1", points), "the lot-free credit stays")
	assert.Equal(t, int64(90), f.posted(t, "platform:expired", points))
	assert.Equal(t, int64(0), by(now.Add(100*day)))

	res, err = f.l.SweepExpired(ctx, tenant, f.clock.Now(), 100)
	require.NoError(t, err)
	assert.Empty(t, res.Transactions, "a second sweep finds nothing")

	// History tells where the points went.
	page, err := f.l.History(ctx, tenant, "member:1", ledger.HistoryQuery{Asset: points, Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Entries, 2)
	assert.Equal(t, ledger.KindExpiry, page.Entries[0].Kind)
	assert.Equal(t, "-90", page.Entries[0].Amount.StringFixed())
	assert.Equal(t, "20", page.Entries[0].Balance.StringFixed())
	assert.Equal(t, "platform:expired", page.Entries[0].Other)
	assert.NotZero(t, page.Next)
	page2, err := f.l.History(ctx, tenant, "member:1", ledger.HistoryQuery{Before: page.Next, Limit: 10})
	require.NoError(t, err)
	assert.Len(t, page2.Entries, 3)
	assert.Zero(t, page2.Next)
}

func TestExpiryUnderHold(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := f.clock.Now()
	_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "earn", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:1", Amount: pts(100), ExpiresAt: now.Add(time.Hour)}}})
	require.NoError(t, err)
	h, err := f.l.Hold(ctx, tenant, ledger.HoldRequest{Key: "lock", Account: "member:1", Destination: "shop", Amount: pts(80)})
	require.NoError(t, err)
	f.clock.Advance(2 * time.Hour)
	res, err := f.l.SweepExpired(ctx, tenant, f.clock.Now(), 10)
	require.NoError(t, err)
	require.Len(t, res.Transactions, 1)
	assert.Equal(t, "20", res.Transactions[0].Postings[0].Amount.StringFixed(), "only what no hold covers")
	assert.Equal(t, int64(0), f.available(t, "member:1", points))
	_, err = f.l.Void(ctx, tenant, h.ID)
	require.NoError(t, err)
	res, err = f.l.SweepExpired(ctx, tenant, f.clock.Now(), 10)
	require.NoError(t, err)
	require.Len(t, res.Transactions, 1)
	assert.Equal(t, "80", res.Transactions[0].Postings[0].Amount.StringFixed())
	assert.Equal(t, int64(0), f.posted(t, "member:1", points))
}

func TestBalanceAt(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	t0 := f.clock.Now()
	f.move(t, "a", ledger.World, "member:1", pts(10))
	f.clock.Advance(time.Hour)
	f.move(t, "b", ledger.World, "member:1", pts(5))
	f.clock.Advance(time.Hour)
	f.move(t, "c", "member:1", "shop", pts(12))
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Second), "0"}, {t0, "10"}, {t0.Add(30 * time.Minute), "10"}, {t0.Add(time.Hour), "15"}, {t0.Add(5 * time.Hour), "3"},
	} {
		got, err := f.l.BalanceAt(ctx, tenant, "member:1", points, c.at)
		require.NoError(t, err)
		assert.Equal(t, c.want, got.StringFixed(), c.at)
	}
}

func TestInsideHostTransaction(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	boom := errors.New("order insert failed")
	err := f.s.InTx(ctx, func(ctx context.Context) error {
		if _, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "in-tx", Postings: []ledger.Posting{
			{Source: ledger.World, Destination: "member:1", Amount: pts(10)}}}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, int64(0), f.posted(t, "member:1", points))
	assert.Empty(t, f.outbox(t), "the message rolled back with the transfer")
	_, err = f.l.TransactionByKey(ctx, tenant, "in-tx")
	require.ErrorIs(t, err, ledger.ErrTransactionNotFound)
}

func TestHistoryValidation(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, err := f.l.History(ctx, tenant, "member:1", ledger.HistoryQuery{Limit: 1001})
	require.ErrorIs(t, err, ledger.ErrInvalidRequest)
	_, err = f.l.History(ctx, tenant, "member:1", ledger.HistoryQuery{Asset: money.MustCurrency("MILES", 0)})
	require.ErrorIs(t, err, ledger.ErrUnknownAsset)
	p, err := f.l.History(ctx, tenant, "member:1", ledger.HistoryQuery{})
	require.NoError(t, err)
	assert.Empty(t, p.Entries)
	_, err = f.l.Balance(ctx, tenant, "bad id", points)
	require.ErrorIs(t, err, ledger.ErrInvalidRequest)
}

func TestRefusedTransferLeavesNoHistory(t *testing.T) {
	// member:1 is touched in two assets: it gets USD (line 0), then pays
	// POINTS it lacks (line 1). The refusal must take back both entries.
	f := setup(t)
	ctx := context.Background()
	f.move(t, "fund", ledger.World, "member:1", pts(10))
	_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "x", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:1", Amount: usd("1.00")},
		{Source: "member:1", Destination: "member:2", Amount: pts(20)}}})
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	p, err := f.l.History(ctx, tenant, "member:1", ledger.HistoryQuery{})
	require.NoError(t, err)
	require.Len(t, p.Entries, 1)
	assert.Equal(t, "10 POINTS", p.Entries[0].Amount.String())
	next := f.move(t, "y", "member:1", "member:2", pts(4))
	p, err = f.l.History(ctx, tenant, "member:1", ledger.HistoryQuery{})
	require.NoError(t, err)
	require.Len(t, p.Entries, 2)
	assert.Equal(t, next.ID, p.Entries[0].TxID)
	assert.Greater(t, p.Entries[0].Seq, p.Entries[1].Seq)
}

func TestCustomIDs(t *testing.T) {
	s := memory.MustNew()
	reg, err := money.NewRegistry(points)
	require.NoError(t, err)
	n := 0
	l, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s, Assets: reg,
		NewID: func() string { n++; return fmt.Sprintf("tx-%d", n) }})
	require.NoError(t, err)
	ctx := context.Background()
	req := ledger.TransferRequest{Key: "k1", Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: pts(5)}}}
	tx, err := l.Transfer(ctx, tenant, req)
	require.NoError(t, err)
	assert.Equal(t, "tx-1", tx.ID)
	again, err := l.Transfer(ctx, tenant, req)
	require.NoError(t, err)
	assert.Equal(t, "tx-1", again.ID, "a replay returns the first transaction")
	got, err := l.TransactionByID(ctx, tenant, "tx-1")
	require.NoError(t, err)
	assert.Equal(t, "k1", got.Key)
	msgs, err := s.PendingOutbox(ctx, storage.PartitionOf(tenant, ledger.AggregateTransaction, "tx-1"), 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "ledger.tx.tx-1", msgs[0].EventID)
	assert.Equal(t, "tx-1", msgs[0].AggregateID)
}
