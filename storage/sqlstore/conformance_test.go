package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/storage/sqlstore"
	"github.com/rewardkit/rewardkit/storage/storagetest"
)

// TestConformance runs the storage conformance suite on both dialects.
// Each case gets a fresh database; OpenSecond opens another store (another
// pool, standing for another host) on the same one.
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			places := map[*sqlstore.Store]string{}
			events := 0 // the suite's default: 10,000 deliveries
			if b.name == "sqlite" {
				// One writer at a time: under -race 10,000 deliveries by 8
				// consumers take minutes. 2,000 still race 8 consumers
				// over duplicates, reverses and parked reverses.
				events = 2000
			}
			storagetest.Run(t, storagetest.Harness{
				RewardEvents: events,
				Open: func(t *testing.T) storagetest.Store {
					place := b.place(t)
					s := b.open(t, place, sqlstore.Options{})
					places[s] = place
					return s
				},
				OpenSecond: func(t *testing.T, first storagetest.Store) storagetest.Store {
					return b.open(t, places[first.(*sqlstore.Store)], sqlstore.Options{SkipMigrate: true})
				},
				BeginHostTx: func(t *testing.T, st storagetest.Store) storagetest.HostTx {
					s := st.(*sqlstore.Store)
					tx, err := s.DB().BeginTx(context.Background(), nil)
					require.NoError(t, err)
					t.Cleanup(func() { _ = tx.Rollback() })
					return storagetest.HostTx{Ctx: s.WithTx(context.Background(), tx), Commit: tx.Commit, Rollback: tx.Rollback}
				},
			})
		})
	}
}
