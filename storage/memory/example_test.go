package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// A transaction that fails leaves nothing behind; a bounded counter never
// crosses its limit.
func Example() {
	ctx := context.Background()
	store := memory.MustNew()
	const tenant storage.TenantID = "acme"

	err := store.InTx(ctx, func(ctx context.Context) error {
		if _, _, err := store.AddCounter(ctx, tenant, "stock", 5, storage.Bounds{}); err != nil {
			return err
		}
		return errors.New("payment declined")
	})
	v, _ := store.Counter(ctx, tenant, "stock")
	fmt.Println(err, "-> stock", v)

	for range 3 {
		v, ok, _ := store.AddCounter(ctx, tenant, "claimed", 1, storage.AtMost(2))
		fmt.Println("claim applied:", ok, "claimed:", v)
	}
	// Output:
	// payment declined -> stock 0
	// claim applied: true claimed: 1
	// claim applied: true claimed: 2
	// claim applied: false claimed: 2
}
