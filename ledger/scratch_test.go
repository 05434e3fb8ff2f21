package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
)

// Transfer reuses its working memory (rows, lines, payload buffer) from
// one call to the next: nothing a call returned or stored may change
// with the calls after it.
func TestTransferReusesWorkingMemory(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.move(t, "fund", ledger.World, "member:1", pts(1000))
	reqs := []ledger.TransferRequest{
		{Key: "one", Postings: []ledger.Posting{{Source: "member:1", Destination: "member:2", Amount: pts(5)}},
			Metadata: map[string]string{"order": "o-1"}},
		{Key: "three", Postings: []ledger.Posting{
			{Source: "member:1", Destination: "member:2", Amount: pts(1)},
			{Source: "member:1", Destination: "member:3", Amount: pts(2)},
			{Source: "member:2", Destination: "member:3", Amount: pts(3)}}},
		{Key: "legs", Legs: []ledger.Leg{{Account: "member:3", Amount: pts(-4)}, {Account: "member:1", Amount: pts(4)}}},
		{Key: "over", Postings: []ledger.Posting{{Source: "member:2", Destination: "member:1", Amount: pts(1 << 40)}}},
		{Key: "two", Postings: []ledger.Posting{{Source: "member:1", Destination: "member:4", Amount: pts(7)}}},
	}
	type want struct {
		key     string
		amounts []int64
	}
	var got []*ledger.Transaction
	var wants []want
	for _, r := range reqs {
		tx, err := f.l.Transfer(ctx, tenant, r)
		if r.Key == "over" {
			require.ErrorIs(t, err, ledger.ErrInsufficientFunds)
			continue
		}
		require.NoError(t, err, r.Key)
		w := want{key: r.Key}
		for _, p := range tx.Postings {
			m, err := p.Amount.Minor()
			require.NoError(t, err)
			w.amounts = append(w.amounts, m)
		}
		got, wants = append(got, tx), append(wants, w)
	}
	assert.Equal(t, []int64{5}, wants[0].amounts)
	assert.Equal(t, []int64{1, 2, 3}, wants[1].amounts)
	assert.Equal(t, []int64{4}, wants[2].amounts)
	assert.Equal(t, []int64{7}, wants[3].amounts)

	events := map[string]string{} // transaction ID -> payload
	for _, m := range f.outbox(t) {
		events[m.AggregateID] = string(m.Payload)
	}
	for i, tx := range got {
		// The returned transactions kept their values...
		assert.Equal(t, wants[i].key, tx.Key)
		for k, p := range tx.Postings {
			m, err := p.Amount.Minor()
			require.NoError(t, err)
			assert.Equal(t, wants[i].amounts[k], m, "%s posting %d", tx.Key, k)
		}
		// ...and match the store's copy and the outbox.
		stored, err := f.l.TransactionByKey(ctx, tenant, tx.Key)
		require.NoError(t, err)
		assert.Equal(t, tx.ID, stored.ID)
		require.Len(t, stored.Postings, len(tx.Postings))
		var payload struct {
			ID, Key  string
			Postings []struct {
				Source, Destination string
				Amount              int64
			}
			Metadata map[string]string
		}
		require.NoError(t, json.Unmarshal([]byte(events[tx.ID]), &payload), events[tx.ID])
		assert.Equal(t, tx.ID, payload.ID)
		assert.Equal(t, tx.Key, payload.Key)
		require.Len(t, payload.Postings, len(tx.Postings))
		for k, p := range tx.Postings {
			assert.Equal(t, p.Source, payload.Postings[k].Source)
			assert.Equal(t, wants[i].amounts[k], payload.Postings[k].Amount)
			assert.True(t, p.Amount.Equal(stored.Postings[k].Amount))
		}
		assert.Equal(t, tx.Metadata, payload.Metadata)
	}
	assert.Equal(t, map[string]string{"order": "o-1"}, got[0].Metadata)
	_, err := f.l.TransactionByKey(ctx, tenant, "over")
	require.ErrorIs(t, err, ledger.ErrTransactionNotFound, "a failed transfer left nothing")
}

// A transfer answers with the caller's amounts when they are at their
// asset's scale, and with amounts at that scale otherwise.
func TestTransferAmountsAtScale(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	usdLedger, err := ledger.New(ledger.Config{Store: f.s.Ledger(), Tx: f.s, Clock: f.clock})
	require.NoError(t, err)
	for _, in := range []string{"1.50", "1.5", "2"} {
		a := money.MustParse(in, money.USD)
		tx, err := usdLedger.Transfer(ctx, tenant, ledger.TransferRequest{Key: "usd-" + in,
			Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: a}}})
		require.NoError(t, err)
		got := tx.Postings[0].Amount
		assert.True(t, got.Equal(a))
		assert.Equal(t, -money.USD.Scale(), got.Decimal().Exponent(), "%s reads back at the asset's scale", in)
		stored, err := usdLedger.TransactionByKey(ctx, tenant, "usd-"+in)
		require.NoError(t, err)
		assert.Equal(t, stored.Postings[0].Amount.String(), got.String())
	}
}

// The working memory of Transfer is not reused when a Store may still
// hold it: inside a host's transaction the rows go to CommitTx.
func TestTransferInHostTransaction(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.move(t, "fund", ledger.World, "member:1", pts(100))
	boom := errors.New("boom")
	var inner *ledger.Transaction
	err := f.s.InTx(ctx, func(ctx context.Context) error {
		var err error
		inner, err = f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "in-tx",
			Postings: []ledger.Posting{{Source: "member:1", Destination: "member:2", Amount: pts(9)}}})
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, "in-tx", inner.Key)
	assert.Equal(t, int64(100), f.posted(t, "member:1", points), "rolled back with the host")
	for _, k := range []string{"after-1", "after-2", "after-3"} {
		f.move(t, k, "member:1", "member:2", pts(1))
	}
	assert.Equal(t, int64(97), f.posted(t, "member:1", points))
}

// A transfer of one posting allocates what it returns (the transaction
// with its posting, and its IDs in one string) and little else.
func TestTransferAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	f := setup(t)
	ctx := context.Background()
	f.move(t, "fund", ledger.World, "member:1", pts(1<<40))
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = "a" + string(rune('A'+i%26)) + string(rune('a'+i/26))
	}
	one := pts(1)
	i := 0
	allocs := testing.AllocsPerRun(len(keys)-1, func() {
		_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: keys[i],
			Postings: []ledger.Posting{{Source: "member:1", Destination: "member:2", Amount: one}}})
		if err != nil {
			t.Fatal(err)
		}
		i++
	})
	assert.LessOrEqual(t, allocs, 3.0, "allocations per transfer")
}
