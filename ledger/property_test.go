package ledger_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/rewardkit/rewardkit/ledger/ledgertest"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// TestModel runs the stateful model check on the memory adapter, with
// the whole state (and the outbox) compared after every step.
func TestModel(t *testing.T) {
	ledgertest.Check(t, ledgertest.Options{Open: func(t *rapid.T) ledgertest.Env {
		s := memory.MustNew()
		return ledgertest.Env{Store: s.Ledger(), Tx: s, Tenant: "model", Outbox: s}
	}})
}
