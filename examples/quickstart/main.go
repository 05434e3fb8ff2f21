// Command quickstart shows rewardkit on its embedded default, the
// in-memory store: no server, nothing to set up.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// Money is exact: a 100.01 order split 10% / 85% / 5% sums back to the cent.
	order := money.MustParse("100.01", money.USD)
	parts, err := money.Split(order, []decimal.Decimal{
		decimal.RequireFromString("0.10"), decimal.RequireFromString("0.85"), decimal.RequireFromString("0.05"),
	})
	if err != nil {
		return err
	}
	fmt.Printf("split %s: platform %s, merchant %s, channel %s\n", order, parts[0], parts[1], parts[2])

	// The embedded default store: every command runs in a transaction and is
	// idempotent under the caller's key.
	store := memory.MustNew()
	const tenant storage.TenantID = "acme"
	clock := storage.SystemClock{}
	award := func(key string) (int64, error) {
		return storage.Idempotent(ctx, store, store, clock, tenant, "demo.award", key, "member-42", func(ctx context.Context) (int64, error) {
			v, _, err := store.AddCounter(ctx, tenant, "member-42:stamps", 1, storage.AtMost(10))
			if err != nil {
				return 0, err
			}
			return v, store.AppendOutbox(ctx, storage.Message{
				EventID: "stamp-" + key, Tenant: tenant, Topic: "demo.stamp.awarded",
				AggregateType: "member", AggregateID: "42", Payload: fmt.Appendf(nil, `{"stamps":%d}`, v),
			})
		})
	}
	for _, key := range []string{"evt-1", "evt-2", "evt-1"} { // evt-1 is delivered twice
		v, err := award(key)
		if err != nil {
			return err
		}
		fmt.Printf("event %s -> member 42 has %d stamps\n", key, v)
	}

	// The outbox relay hands committed events to the host's broker.
	relay := &storage.Relay{Outbox: store, Leases: store, Clock: clock, Owner: "quickstart",
		Publisher: storage.PublisherFunc(func(_ context.Context, m storage.Message) error {
			fmt.Fprintf(os.Stdout, "published %s %s\n", m.Topic, m.Payload)
			return nil
		})}
	n, err := relay.RunOnce(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("relayed %d events\n", n)
	return nil
}
