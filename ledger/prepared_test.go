package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
)

func TestPreparedTransferCommitsAsTransfer(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	prepared := f.clock.Now()
	p, err := f.l.Prepare(tenant, ledger.TransferRequest{Key: "pay-1", Metadata: map[string]string{"order": "o1"},
		Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: pts(40)}}})
	require.NoError(t, err)
	assert.Equal(t, "pay-1", p.Key())
	assert.Equal(t, int64(0), f.posted(t, "member:1", points), "Prepare writes nothing")
	assert.Empty(t, f.outbox(t))

	f.clock.Advance(time.Minute)
	tx, err := f.l.CommitPrepared(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, "pay-1", tx.Key)
	assert.Equal(t, ledger.KindTransfer, tx.Kind)
	assert.True(t, tx.At.Equal(prepared), "stamped when prepared: %s", tx.At)
	assert.Equal(t, map[string]string{"order": "o1"}, tx.Metadata)
	require.Len(t, tx.Postings, 1)
	assert.True(t, tx.Postings[0].Amount.Equal(pts(40)))
	assert.Equal(t, int64(40), f.posted(t, "member:1", points))
	assert.Equal(t, int64(-40), f.posted(t, ledger.World, points))

	msgs := f.outbox(t)
	require.Len(t, msgs, 1)
	assert.Equal(t, tx.ID, msgs[0].AggregateID)
	stored, err := f.l.TransactionByKey(ctx, tenant, "pay-1")
	require.NoError(t, err)
	assert.Equal(t, tx.ID, stored.ID)

	// Committed again (a retried transaction, say): a replay of the first.
	again, err := f.l.CommitPrepared(ctx, p)
	require.NoError(t, err)
	assert.Equal(t, tx.ID, again.ID)
	assert.Equal(t, int64(40), f.posted(t, "member:1", points), "a replay moves nothing")
	assert.Len(t, f.outbox(t), 1)

	// A plain Transfer with the same key and postings is the same replay;
	// other postings under the key are refused.
	same := f.move(t, "pay-1", ledger.World, "member:1", pts(40))
	assert.Equal(t, tx.ID, same.ID)
	other, err := f.l.Prepare(tenant, ledger.TransferRequest{Key: "pay-1",
		Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: pts(41)}}})
	require.NoError(t, err)
	_, err = f.l.CommitPrepared(ctx, other)
	require.ErrorIs(t, err, ledger.ErrKeyReused)
}

func TestPrepareRefusesBadInput(t *testing.T) {
	f := setup(t)
	one := func(from, to string, a money.Amount) []ledger.Posting {
		return []ledger.Posting{{Source: from, Destination: to, Amount: a}}
	}
	cases := []struct {
		name   string
		tenant storage.TenantID
		req    ledger.TransferRequest
		want   error
	}{
		{"bad tenant", "", ledger.TransferRequest{Key: "k", Postings: one(ledger.World, "member:1", pts(1))}, storage.ErrInvalidTenant},
		{"no key", tenant, ledger.TransferRequest{Postings: one(ledger.World, "member:1", pts(1))}, ledger.ErrInvalidRequest},
		{"no postings", tenant, ledger.TransferRequest{Key: "k"}, ledger.ErrInvalidRequest},
		{"zero", tenant, ledger.TransferRequest{Key: "k", Postings: one(ledger.World, "member:1", pts(0))}, ledger.ErrInvalidAmount},
		{"unknown asset", tenant, ledger.TransferRequest{Key: "k",
			Postings: one(ledger.World, "member:1", money.FromMinor(1, money.MustCurrency("MILES", 0)))}, ledger.ErrUnknownAsset},
		{"to itself", tenant, ledger.TransferRequest{Key: "k", Postings: one("member:1", "member:1", pts(1))}, ledger.ErrInvalidRequest},
		{"unbalanced legs", tenant, ledger.TransferRequest{Key: "k", Legs: []ledger.Leg{
			{Account: ledger.World, Amount: pts(-3)}, {Account: "member:1", Amount: pts(2)}}}, ledger.ErrUnbalanced},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := f.l.Prepare(c.tenant, c.req)
			require.ErrorIs(t, err, c.want)
			assert.Nil(t, p)
		})
	}
	_, err := f.l.CommitPrepared(context.Background(), nil)
	require.ErrorIs(t, err, ledger.ErrInvalidRequest)
	_, err = f.l.CommitPrepared(context.Background(), &ledger.PreparedTransfer{})
	require.ErrorIs(t, err, ledger.ErrInvalidRequest)
	assert.Empty(t, f.outbox(t), "nothing written")
}

func TestPreparedTransferInHostTransaction(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.move(t, "seed", ledger.World, "member:1", pts(5))
	p, err := f.l.Prepare(tenant, ledger.TransferRequest{Key: "spend",
		Postings: []ledger.Posting{{Source: "member:1", Destination: "shop", Amount: pts(5)}}})
	require.NoError(t, err)

	// The host's transaction fails after the commit: nothing stays.
	boom := errors.New("order update failed")
	err = f.s.InTx(ctx, func(ctx context.Context) error {
		if _, err := f.l.CommitPrepared(ctx, p); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, int64(5), f.posted(t, "member:1", points))
	_, err = f.l.TransactionByKey(ctx, tenant, "spend")
	require.ErrorIs(t, err, ledger.ErrTransactionNotFound)

	// The same prepared transfer commits in the next run; a second spend
	// of the same balance, prepared before the first committed, is judged
	// by the balance at its commit.
	late, err := f.l.Prepare(tenant, ledger.TransferRequest{Key: "spend-again",
		Postings: []ledger.Posting{{Source: "member:1", Destination: "shop", Amount: pts(1)}}})
	require.NoError(t, err)
	require.NoError(t, f.s.InTx(ctx, func(ctx context.Context) error {
		_, err := f.l.CommitPrepared(ctx, p)
		return err
	}))
	assert.Equal(t, int64(0), f.posted(t, "member:1", points))
	_, err = f.l.CommitPrepared(ctx, late)
	require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
	assert.Equal(t, int64(5), f.posted(t, "shop", points))
	assert.Len(t, f.outbox(t), 2, "the seed's and the spend's")
}
