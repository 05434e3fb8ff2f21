package storagetest

import (
	"context"
	"testing"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/reward"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
)

// Store is what an adapter must implement to run the suite.
type Store interface {
	storage.Transactor
	storage.IdempotencyStore
	storage.OutboxStore
	storage.LeaseStore
	storage.CounterStore
	Risk() risk.Store
	Rewards() reward.Store
	Ledger() ledger.Store
	Coupons() coupon.Store
}

// HostTx is a transaction the host opened on the adapter's database, with
// a context in which the adapter joins it.
type HostTx struct {
	Ctx      context.Context
	Commit   func() error
	Rollback func() error
}

// Harness tells the suite how to reach an adapter.
type Harness struct {
	// Open returns a store over a fresh, empty database. Required.
	Open func(t *testing.T) Store
	// OpenSecond returns another store instance over the same database as
	// first, standing for a second host process. Nil: the adapter lives in
	// one process, and first is used again.
	OpenSecond func(t *testing.T, first Store) Store
	// BeginHostTx opens a host transaction on s's database. Nil: the
	// adapter cannot join host transactions, and those cases are skipped.
	BeginHostTx func(t *testing.T, s Store) HostTx
	// Writers is the number of concurrent goroutines in the concurrency
	// cases; default 32.
	Writers int
	// RewardEvents is the number of deliveries in the reward stream case;
	// default 10,000 (1,500 with -short). SQLite under -race needs minutes
	// for 10,000.
	RewardEvents int
}

func (h Harness) second(t *testing.T, first Store) Store {
	if h.OpenSecond == nil {
		return first
	}
	return h.OpenSecond(t, first)
}

func (h Harness) writers() int {
	if h.Writers > 0 {
		return h.Writers
	}
	return 32
}

// Run runs every section of the suite.
func Run(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("storagetest: Harness.Open is required")
	}
	t.Run("Tx", func(t *testing.T) { RunTx(t, h) })
	t.Run("Idempotency", func(t *testing.T) { RunIdempotency(t, h) })
	t.Run("Outbox", func(t *testing.T) { RunOutbox(t, h) })
	t.Run("Lease", func(t *testing.T) { RunLease(t, h) })
	t.Run("Counter", func(t *testing.T) { RunCounter(t, h) })
	t.Run("Coupon", func(t *testing.T) { RunCoupon(t, h) })
	t.Run("Risk", func(t *testing.T) { RunRisk(t, h) })
	t.Run("Ledger", func(t *testing.T) { RunLedger(t, h) })
	t.Run("Reward", func(t *testing.T) { RunReward(t, h) })
	t.Run("Settlement", func(t *testing.T) { RunSettlement(t, h) })
}
