package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// newExampleLedger wires a ledger over the memory adapter with a POINTS
// asset and a fake clock.
func newExampleLedger() (*ledger.Ledger, *storage.FakeClock) {
	store := memory.MustNew()
	points := money.MustCurrency("POINTS", 0)
	assets, _ := money.NewRegistry(points)
	clock := storage.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := ledger.New(ledger.Config{Store: store.Ledger(), Tx: store, Clock: clock, Assets: assets, ExpiryAccount: "points:expired"})
	if err != nil {
		panic(err)
	}
	return l, clock
}

func Example() {
	ctx := context.Background()
	l, _ := newExampleLedger()
	points := money.MustCurrency("POINTS", 0)

	// Accrue 100 points for an order, then redeem 30.
	_, err := l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "order-1001:accrual", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:42:points", Amount: money.FromMinor(100, points)},
	}})
	if err != nil {
		panic(err)
	}
	_, err = l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "redeem-7", Postings: []ledger.Posting{
		{Source: "member:42:points", Destination: "platform:redeemed", Amount: money.FromMinor(30, points)},
	}})
	if err != nil {
		panic(err)
	}
	b, _ := l.Balance(ctx, "shop", "member:42:points", points)
	fmt.Println("balance:", b.Posted)

	// A redelivered event counts once.
	_, _ = l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "order-1001:accrual", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:42:points", Amount: money.FromMinor(100, points)},
	}})
	b, _ = l.Balance(ctx, "shop", "member:42:points", points)
	fmt.Println("after replay:", b.Posted)

	// Spending more than there is fails and changes nothing.
	_, err = l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "redeem-8", Postings: []ledger.Posting{
		{Source: "member:42:points", Destination: "platform:redeemed", Amount: money.FromMinor(500, points)},
	}})
	fmt.Println(errors.Is(err, ledger.ErrInsufficientFunds))
	// Output:
	// balance: 70 POINTS
	// after replay: 70 POINTS
	// true
}

func ExampleLedger_Commit() {
	ctx := context.Background()
	l, _ := newExampleLedger()
	// A settlement split: the customer pays 100.00, the merchant gets
	// 95.00, the platform 5.00; plus a cashback, in one call.
	txs, err := l.Commit(ctx, "mall", []ledger.TransferRequest{
		{Key: "fund", Postings: []ledger.Posting{{Source: ledger.World, Destination: "customer:1", Amount: money.MustParse("100.00", money.USD)}}},
		{Key: "order-1", Legs: []ledger.Leg{
			{Account: "customer:1", Amount: money.MustParse("-100.00", money.USD)},
			{Account: "merchant:7:payable", Amount: money.MustParse("95.00", money.USD)},
			{Account: "platform:revenue", Amount: money.MustParse("5.00", money.USD)},
		}},
	})
	if err != nil {
		panic(err)
	}
	for _, p := range txs[1].Postings {
		fmt.Println(p.Source, "->", p.Destination, p.Amount)
	}
	// Output:
	// customer:1 -> merchant:7:payable 95.00 USD
	// customer:1 -> platform:revenue 5.00 USD
}

func ExampleLedger_Hold() {
	ctx := context.Background()
	l, _ := newExampleLedger()
	usd := func(s string) money.Amount { return money.MustParse(s, money.USD) }
	_, _ = l.Transfer(ctx, "mall", ledger.TransferRequest{Key: "load", Postings: []ledger.Posting{{Source: ledger.World, Destination: "giftcard:9", Amount: usd("50.00")}}})

	// Authorise 30.00 on a gift card, capture 25.00, release the rest.
	h, _ := l.Hold(ctx, "mall", ledger.HoldRequest{Key: "auth-1", Account: "giftcard:9", Destination: "merchant:7", Amount: usd("30.00")})
	b, _ := l.Balance(ctx, "mall", "giftcard:9", money.USD)
	fmt.Println("held:", b.Held, "available:", b.Available)
	_, _ = l.Capture(ctx, "mall", h.ID, ledger.CaptureRequest{Key: "cap-1", Amount: usd("25.00")})
	h, _ = l.Void(ctx, "mall", h.ID)
	b, _ = l.Balance(ctx, "mall", "giftcard:9", money.USD)
	fmt.Println(h.Status, "posted:", b.Posted, "available:", b.Available)
	// Output:
	// held: 30.00 USD available: 20.00 USD
	// voided posted: 25.00 USD available: 25.00 USD
}

func ExampleLedger_OpenHolds() {
	ctx := context.Background()
	l, _ := newExampleLedger()
	usd := func(s string) money.Amount { return money.MustParse(s, money.USD) }
	_, _ = l.Transfer(ctx, "mall", ledger.TransferRequest{Key: "load", Postings: []ledger.Posting{{Source: ledger.World, Destination: "giftcard:9", Amount: usd("50.00")}}})
	for _, key := range []string{"auth-1", "auth-2", "auth-3"} {
		_, _ = l.Hold(ctx, "mall", ledger.HoldRequest{Key: key, Account: "giftcard:9", Destination: "clearing", Amount: usd("5.00"),
			Metadata: map[string]string{"order": "o-" + key}})
	}
	// Page through the open holds into the clearing account, two at a time.
	after := ""
	for {
		page, _ := l.OpenHolds(ctx, "mall", "clearing", after, 2)
		for _, h := range page {
			fmt.Println(h.Metadata["order"], h.Remaining())
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	// Output:
	// o-auth-1 5.00 USD
	// o-auth-2 5.00 USD
	// o-auth-3 5.00 USD
}

func ExampleLedger_Reverse() {
	ctx := context.Background()
	l, _ := newExampleLedger()
	points := money.MustCurrency("POINTS", 0)
	tx, _ := l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "order-9:accrual", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(80, points)}}})
	// The customer returns half the order: take back 40 points.
	_, _ = l.Reverse(ctx, "shop", tx.ID, ledger.ReverseRequest{Key: "aftersale-3", Amounts: []money.Amount{money.FromMinor(40, points)}})
	_, err := l.Reverse(ctx, "shop", tx.ID, ledger.ReverseRequest{Key: "aftersale-4", Amounts: []money.Amount{money.FromMinor(41, points)}})
	fmt.Println(errors.Is(err, ledger.ErrOverReversal))
	b, _ := l.Balance(ctx, "shop", "member:1", points)
	fmt.Println(b.Posted)
	// Output:
	// true
	// 40 POINTS
}

func ExampleLedger_SweepExpired() {
	ctx := context.Background()
	l, clock := newExampleLedger()
	points := money.MustCurrency("POINTS", 0)
	now := clock.Now()
	_, _ = l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "promo", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(100, points), ExpiresAt: now.AddDate(0, 1, 0)}}})
	soon, _ := l.ExpiringBy(ctx, "shop", "member:1", points, now.AddDate(0, 2, 0))
	fmt.Println("expiring within two months:", soon)

	clock.Set(now.AddDate(0, 1, 1))
	res, _ := l.SweepExpired(ctx, "shop", clock.Now(), 100)
	p := res.Transactions[0].Postings[0]
	fmt.Println(p.Source, "->", p.Destination, p.Amount)
	// Output:
	// expiring within two months: 100 POINTS
	// member:1 -> points:expired 100 POINTS
}

func ExampleLedger_BalanceAt() {
	ctx := context.Background()
	l, clock := newExampleLedger()
	points := money.MustCurrency("POINTS", 0)
	start := clock.Now()
	_, _ = l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "a", Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(10, points)}}})
	clock.Advance(24 * time.Hour)
	_, _ = l.Transfer(ctx, "shop", ledger.TransferRequest{Key: "b", Postings: []ledger.Posting{{Source: ledger.World, Destination: "member:1", Amount: money.FromMinor(5, points)}}})
	then, _ := l.BalanceAt(ctx, "shop", "member:1", points, start.Add(time.Hour))
	page, _ := l.History(ctx, "shop", "member:1", ledger.HistoryQuery{Limit: 10})
	fmt.Println("a day ago:", then)
	for _, e := range page.Entries {
		fmt.Println(e.Amount, "->", e.Balance)
	}
	// Output:
	// a day ago: 10 POINTS
	// 5 POINTS -> 15 POINTS
	// 10 POINTS -> 10 POINTS
}

func ExampleLedger_OpenAccount() {
	ctx := context.Background()
	l, _ := newExampleLedger()
	// A merchant may owe the platform up to 500.00 USD.
	_, _ = l.OpenAccount(ctx, "mall", ledger.Account{ID: "merchant:7:payable", Metadata: map[string]string{"name": "Acme"},
		Overdraft: ledger.Overdraft{Kind: ledger.BoundedOverdraft, Limit: money.MustParse("500.00", money.USD)}})
	_, err := l.Transfer(ctx, "mall", ledger.TransferRequest{Key: "chargeback", Postings: []ledger.Posting{
		{Source: "merchant:7:payable", Destination: "platform:clearing", Amount: money.MustParse("400.00", money.USD)}}})
	fmt.Println(err)
	b, _ := l.Balance(ctx, "mall", "merchant:7:payable", money.USD)
	fmt.Println(b.Available)
	// Output:
	// <nil>
	// -400.00 USD
}

// Prepare does the work of a transfer that reads no store before a
// transaction of the host's own; the transaction then only commits it.
func ExampleLedger_Prepare() {
	ctx := context.Background()
	store := memory.MustNew()
	l, err := ledger.New(ledger.Config{Store: store.Ledger(), Tx: store})
	if err != nil {
		panic(err)
	}
	p, err := l.Prepare("shop", ledger.TransferRequest{Key: "order-7:pay", Postings: []ledger.Posting{
		{Source: ledger.World, Destination: "clearing", Amount: money.MustParse("12.50", money.USD)},
	}})
	if err != nil {
		panic(err)
	}
	err = store.InTx(ctx, func(ctx context.Context) error {
		// ... the host's own writes of the payment, then:
		_, err := l.CommitPrepared(ctx, p)
		return err
	})
	if err != nil {
		panic(err)
	}
	b, _ := l.Balance(ctx, "shop", "clearing", money.USD)
	fmt.Println("clearing:", b.Posted)
	// Output:
	// clearing: 12.50 USD
}
