package ledger_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/rewardkit/rewardkit/internal/cputime"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
)

// BenchmarkTransfer is one transfer between two existing accounts on the
// memory adapter: validation, idempotency, floors, history, outbox.
func BenchmarkTransfer(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "fund", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:1", Amount: pts(1 << 50)}}})
	if err != nil {
		b.Fatal(err)
	}
	one := pts(1)
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Now()
	for i := range b.N {
		_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: keys[i], Postings: []ledger.Posting{
			{Source: "member:1", Destination: "member:2", Amount: one}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, cpu, b.N, "transfers")
}

// BenchmarkCommitBatch100 commits 100 transfers per call.
func BenchmarkCommitBatch100(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "fund", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:0", Amount: pts(1 << 50)}}})
	if err != nil {
		b.Fatal(err)
	}
	one := pts(1)
	reqs := make([]ledger.TransferRequest, 100)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Now()
	for i := range b.N {
		for j := range reqs {
			reqs[j] = ledger.TransferRequest{Key: strconv.Itoa(i*100 + j), Postings: []ledger.Posting{
				{Source: "member:0", Destination: "member:" + strconv.Itoa(1+j%10), Amount: one}}}
		}
		if _, err := f.l.Commit(ctx, tenant, reqs); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, cpu, b.N*100, "transfers")
}

// BenchmarkBalance reads one balance.
func BenchmarkBalance(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	_, err := f.l.Transfer(ctx, tenant, ledger.TransferRequest{Key: "fund", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(10, points)}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.l.Balance(ctx, tenant, "member:1", points); err != nil {
			b.Fatal(err)
		}
	}
}
