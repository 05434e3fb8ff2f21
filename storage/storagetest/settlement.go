package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
)

// settler is what an adapter offers for package settlement.
type settler interface {
	Settlement() settlement.Store
}

func settlementStore(t *testing.T, s Store) settlement.Store {
	t.Helper()
	st, ok := any(s).(settler)
	if !ok {
		t.Skip("adapter has no Settlement()")
	}
	return st.Settlement()
}

var stT0 = time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC)

func stUSD(s string) money.Amount { return money.MustParse(s, money.USD) }

func stOrder(tenant storage.TenantID, id string, state settlement.OrderState, payBy time.Time) settlement.Order {
	z := money.Zero(money.USD)
	return settlement.Order{Tenant: tenant, ID: id, UserID: "u1", Channel: "app", Currency: money.USD, State: state,
		Lines: []settlement.OrderLine{{ID: "l1", SKU: "tee", Merchant: "m1", UnitPrice: stUSD("19.99"), Quantity: 3,
			Amount: stUSD("59.97"), Discount: stUSD("5.00"), Net: stUSD("54.97"), RefundedAmount: z,
			Funding: []settlement.FundingPart{{Party: "platform", Amount: stUSD("5.00")}}}},
		Subtotal: stUSD("59.97"), Discount: stUSD("5.00"), Total: stUSD("54.97"), Refunded: z,
		Tenders: []settlement.Tender{{Kind: settlement.TenderPayment, Amount: stUSD("54.97"), Refunded: z}},
		Split:   []settlement.Share{{Party: "merchant", Ratio: decimal.NewFromInt(1)}},
		PayBy:   payBy, CreatedAt: stT0, UpdatedAt: stT0, Version: 1, Fingerprint: "fp"}
}

// stServices wires ledger, coupons and settlement over an adapter.
type stServices struct {
	led *ledger.Ledger
	cps *coupon.Service
	svc *settlement.Service
}

func newStServices(t *testing.T, s Store, clock storage.Clock) stServices {
	t.Helper()
	ss := settlementStore(t, s)
	led, err := ledger.New(ledger.Config{Store: ledgerStore(t, s), Tx: s, Clock: clock})
	require.NoError(t, err)
	env, err := rules.NewEnv()
	require.NoError(t, err)
	cps, err := coupon.New(coupon.Config{Store: s.Coupons(), Tx: s, Clock: clock, Rules: env})
	require.NoError(t, err)
	svc, err := settlement.New(settlement.Config{Store: ss, Tx: s, Ledger: led, Coupons: cps, CouponStore: s.Coupons(), Clock: clock,
		Split: []settlement.Share{{Party: "platform", Ratio: decimal.RequireFromString("0.1")}, {Party: "merchant", Ratio: decimal.RequireFromString("0.9")}}})
	require.NoError(t, err)
	return stServices{led: led, cps: cps, svc: svc}
}

// newStPair opens two handles on one store (two host instances) with a
// service set on each, sharing the fake clock it returns.
func newStPair(t *testing.T, h Harness) (a, b stServices, clock *storage.FakeClock) {
	t.Helper()
	first := h.Open(t)
	clock = storage.NewFakeClock(stT0)
	return newStServices(t, first, clock), newStServices(t, h.second(t, first), clock), clock
}

// pick gives writer w the first service set or the second, alternating.
func pick(w int, a, b stServices) stServices {
	if w%2 == 1 {
		return b
	}
	return a
}

// RunSettlement checks the store of package settlement, and the checkout
// guarantees that rest on it: orders written by version, clearing entries
// taken by exactly one statement per party and period, and many
// concurrent checkouts on two instances sharing coupons and one gift card
// that never use a coupon twice, never overspend the gift card and leave
// the ledger balanced.
func RunSettlement(t *testing.T, h Harness) {
	ctx := context.Background()

	t.Run("orders round-trip, conditional update, queries", func(t *testing.T) {
		s := h.Open(t)
		ss := settlementStore(t, s)
		o := stOrder(tenantA, "o1", settlement.StateCreated, stT0.Add(time.Minute))
		require.NoError(t, ss.InsertOrder(ctx, o))
		assert.ErrorIs(t, ss.InsertOrder(ctx, o), storage.ErrDuplicate)
		require.NoError(t, ss.InsertOrder(ctx, stOrder(tenantB, "o1", settlement.StateCreated, stT0)), "IDs are per tenant")
		got, err := ss.Order(ctx, tenantA, "o1")
		require.NoError(t, err)
		assert.Equal(t, o.Currency, got.Currency)
		assert.True(t, got.Total.Equal(o.Total))
		assert.True(t, got.PayBy.Equal(o.PayBy))
		require.Len(t, got.Lines, 1)
		assert.True(t, got.Lines[0].Net.Equal(o.Lines[0].Net))
		assert.Equal(t, o.Lines[0].Funding[0].Party, got.Lines[0].Funding[0].Party)
		_, err = ss.Order(ctx, tenantA, "nope")
		assert.ErrorIs(t, err, storage.ErrNotFound)

		upd := got
		upd.State, upd.Version = settlement.StatePaid, 2
		require.NoError(t, ss.UpdateOrder(ctx, upd, 1))
		assert.ErrorIs(t, ss.UpdateOrder(ctx, upd, 1), storage.ErrConflict, "stale version")
		missing := upd
		missing.ID = "zz"
		assert.ErrorIs(t, ss.UpdateOrder(ctx, missing, 2), storage.ErrNotFound)

		// a head update changes the state and stamps, the lines stay
		head := upd
		head.State, head.PaymentRef, head.PaidAt, head.Version = settlement.StateFulfilled, "psp-1", stT0.Add(time.Hour), 3
		require.NoError(t, ss.UpdateOrderHead(ctx, head, 2))
		assert.ErrorIs(t, ss.UpdateOrderHead(ctx, head, 2), storage.ErrConflict, "stale version")
		missing.Version = 3
		assert.ErrorIs(t, ss.UpdateOrderHead(ctx, missing, 3), storage.ErrNotFound)
		got, err = ss.Order(ctx, tenantA, "o1")
		require.NoError(t, err)
		assert.Equal(t, settlement.StateFulfilled, got.State)
		assert.Equal(t, "psp-1", got.PaymentRef)
		assert.True(t, got.PaidAt.Equal(head.PaidAt))
		assert.Equal(t, int64(3), got.Version)
		require.Len(t, got.Lines, 1)
		assert.True(t, got.Lines[0].Net.Equal(o.Lines[0].Net))
		require.Len(t, got.Tenders, 1)
		assert.True(t, got.Tenders[0].Amount.Equal(o.Tenders[0].Amount))
		// what a read returns is the caller's: changing it changes nothing stored
		got.Lines[0].Quantity, got.Tenders[0].HoldID = 99, "changed"
		again, err := ss.Order(ctx, tenantA, "o1")
		require.NoError(t, err)
		assert.Equal(t, 3, again.Lines[0].Quantity)
		assert.Empty(t, again.Tenders[0].HoldID)

		for i := 2; i <= 5; i++ {
			require.NoError(t, ss.InsertOrder(ctx, stOrder(tenantA, fmt.Sprintf("o%d", i), settlement.StateCreated, stT0.Add(time.Duration(i)*time.Minute))))
		}
		found, err := ss.FindOrders(ctx, settlement.OrderQuery{Tenant: tenantA, States: []settlement.OrderState{settlement.StateCreated},
			PayByBefore: stT0.Add(4*time.Minute + time.Second), Limit: 2})
		require.NoError(t, err)
		require.Len(t, found, 2)
		assert.Equal(t, []string{"o2", "o3"}, []string{found[0].ID, found[1].ID})
		found, err = ss.FindOrders(ctx, settlement.OrderQuery{Tenant: tenantA, AfterID: "o3"})
		require.NoError(t, err)
		require.Len(t, found, 2)
		assert.Equal(t, "o4", found[0].ID)

		// a rolled back transaction leaves nothing
		boom := errors.New("boom")
		err = s.InTx(ctx, func(ctx context.Context) error {
			require.NoError(t, ss.InsertOrder(ctx, stOrder(tenantA, "rolled", settlement.StateCreated, stT0)))
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = ss.Order(ctx, tenantA, "rolled")
		assert.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("entries go to exactly one statement per party and period", func(t *testing.T) {
		s := h.Open(t)
		ss := settlementStore(t, s)
		entry := func(id, party string, at time.Time, cents int64) settlement.Entry {
			return settlement.Entry{Tenant: tenantA, ID: id, Party: party, OrderID: "o-" + id, Kind: settlement.EntryClearing,
				Amount: money.FromMinor(cents, money.USD), TxKey: "tx-" + id, At: at}
		}
		require.NoError(t, ss.InsertEntries(ctx,
			entry("e1", "platform", stT0, 100), entry("e2", "platform", stT0.Add(time.Hour), -30),
			entry("e3", "merchant:m1", stT0.Add(-time.Hour), 900), entry("e4", "platform", stT0.Add(48*time.Hour), 5)))
		assert.ErrorIs(t, ss.InsertEntries(ctx, entry("e1", "platform", stT0, 1)), storage.ErrDuplicate)
		parties, err := ss.OpenParties(ctx, tenantA)
		require.NoError(t, err)
		require.Len(t, parties, 2)
		assert.Equal(t, "merchant:m1", parties[0].Party)
		assert.True(t, parties[0].Earliest.Equal(stT0.Add(-time.Hour)))
		assert.True(t, parties[1].Earliest.Equal(stT0))
		open, err := ss.OpenEntries(ctx, tenantA, "platform", stT0.Add(24*time.Hour), 0)
		require.NoError(t, err)
		require.Len(t, open, 2)
		assert.Equal(t, "e1", open[0].ID)
		assert.True(t, open[1].Amount.Equal(money.FromMinor(-30, money.USD)))

		st := settlement.Statement{Tenant: tenantA, ID: "platform/2025-08-11/USD", Party: "platform", Cycle: "T+1",
			PeriodStart: stT0.Truncate(24 * time.Hour), PeriodEnd: stT0.Truncate(24 * time.Hour).Add(24 * time.Hour), DueAt: stT0.Add(24 * time.Hour),
			Currency: money.USD, Total: money.FromMinor(70, money.USD), Status: settlement.StatementIssued, CreatedAt: stT0, UpdatedAt: stT0, Version: 1,
			Items: []settlement.StatementItem{{EntryID: "e1", OrderID: "o-e1", Kind: settlement.EntryClearing, Amount: money.FromMinor(100, money.USD), At: stT0}}}
		ok, err := ss.InsertStatement(ctx, st, []string{"e1", "e2"})
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = ss.InsertStatement(ctx, st, []string{"e4"})
		require.NoError(t, err)
		assert.False(t, ok, "one statement per party and period")
		other := st
		other.ID, other.PeriodStart = "platform/2025-08-13/USD", st.PeriodStart.Add(48*time.Hour)
		_, err = ss.InsertStatement(ctx, other, []string{"e1"})
		assert.ErrorIs(t, err, storage.ErrConflict, "an entry already on a statement")
		_, err = ss.Statement(ctx, tenantA, other.ID)
		assert.ErrorIs(t, err, storage.ErrNotFound)

		got, err := ss.Statement(ctx, tenantA, st.ID)
		require.NoError(t, err)
		assert.True(t, got.Total.Equal(st.Total))
		assert.Equal(t, money.USD, got.Currency)
		assert.True(t, got.PeriodStart.Equal(st.PeriodStart))
		require.Len(t, got.Items, 1)
		on, err := ss.Entries(ctx, tenantA, "", st.ID)
		require.NoError(t, err)
		require.Len(t, on, 2)
		assert.Equal(t, st.ID, on[0].StatementID)
		byOrder, err := ss.Entries(ctx, tenantA, "o-e3", "")
		require.NoError(t, err)
		require.Len(t, byOrder, 1)
		open, err = ss.OpenEntries(ctx, tenantA, "platform", stT0.Add(100*time.Hour), 0)
		require.NoError(t, err)
		require.Len(t, open, 1)
		assert.Equal(t, "e4", open[0].ID)

		got.Status, got.Version = settlement.StatementReleased, 2
		require.NoError(t, ss.UpdateStatement(ctx, got, 1))
		assert.ErrorIs(t, ss.UpdateStatement(ctx, got, 1), storage.ErrConflict)
		list, err := ss.FindStatements(ctx, tenantA, "platform")
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, settlement.StatementReleased, list[0].Status)
		none, err := ss.FindStatements(ctx, tenantB, "")
		require.NoError(t, err)
		assert.Empty(t, none)
	})

	t.Run("concurrent checkouts never overrun a promotion budget", func(t *testing.T) {
		a, b, _ := newStPair(t, h)
		budget := stUSD("22.00") // five discounts of 4.00, then 2.00
		_, err := a.cps.CreateTemplate(ctx, coupon.Template{Tenant: tenantA, ID: "save4", Auto: true,
			Benefit:  coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, MinSpend: stUSD("10.00"), Amount: stUSD("4.00")},
			Validity: coupon.Validity{Start: stT0.Add(-time.Hour), End: stT0.Add(24 * time.Hour)}, Limits: coupon.Limits{Budget: budget}})
		require.NoError(t, err)
		cart := settlement.Cart{Currency: money.USD, Lines: []settlement.Line{{ID: "l1", SKU: "tee", Merchant: "m1", UnitPrice: stUSD("20.00"), Quantity: 1}}}

		writers := 2 * h.writers()
		var mu sync.Mutex
		var created []settlement.Order
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc := pick(w, a, b)
				user := fmt.Sprintf("u%d", w)
				offers, err := svc.svc.Offers(ctx, settlement.OffersRequest{Tenant: tenantA, UserID: user, Cart: cart})
				if err != nil {
					if !storage.IsRetryable(err) && !errors.Is(err, storage.ErrLockTimeout) {
						t.Errorf("offers %s: %v", user, err)
					}
					return
				}
				o, err := svc.svc.CreateOrder(ctx, settlement.CreateRequest{Tenant: tenantA, OrderID: "o-" + user, UserID: user, Cart: cart, Offers: offers})
				if err != nil {
					if !errors.Is(err, settlement.ErrRequote) && !storage.IsRetryable(err) && !errors.Is(err, storage.ErrLockTimeout) {
						t.Errorf("create o-%s: %v", user, err)
					}
					return
				}
				mu.Lock()
				created = append(created, o)
				mu.Unlock()
			}()
		}
		wg.Wait()

		granted := money.Zero(money.USD)
		for _, o := range created {
			for _, d := range o.Discounts {
				if d.Budgeted {
					granted, _ = granted.Add(d.Amount)
				}
			}
		}
		over, err := granted.Cmp(budget)
		require.NoError(t, err)
		assert.LessOrEqual(t, over, 0, "granted %s of a %s budget", granted, budget)
		assert.True(t, granted.IsPositive())
		left := func() money.Amount {
			offers, err := a.svc.Offers(ctx, settlement.OffersRequest{Tenant: tenantA, UserID: "probe", Cart: cart})
			require.NoError(t, err)
			require.Len(t, offers, 1)
			require.NotNil(t, offers[0].BudgetLeft)
			return *offers[0].BudgetLeft
		}
		want, _ := budget.Sub(granted)
		assert.True(t, left().Equal(want), "left %s, want %s", left(), want)
		// cancelling every order gives the whole budget back
		for _, o := range created {
			_, err := b.svc.Cancel(ctx, settlement.OrderRequest{Tenant: tenantA, OrderID: o.ID})
			require.NoError(t, err)
		}
		assert.True(t, left().Equal(budget), "left %s after cancelling all", left())
	})

	t.Run("concurrent checkouts share coupons and one gift card", func(t *testing.T) {
		a, b, clock := newStPair(t, h)
		_, err := a.cps.CreateTemplate(ctx, coupon.Template{Tenant: tenantA, ID: "off5",
			Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: stUSD("5.00")},
			Validity: coupon.Validity{Start: stT0.Add(-time.Hour), End: stT0.Add(24 * time.Hour)}})
		require.NoError(t, err)
		const coupons = 4
		var ids []string
		for range coupons {
			c, err := a.cps.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "off5", UserID: "shared"})
			require.NoError(t, err)
			ids = append(ids, c.ID)
		}
		_, err = a.led.Transfer(ctx, tenantA, ledger.TransferRequest{Key: "load-card", Postings: []ledger.Posting{{Source: ledger.World, Destination: "giftcard:g1", Amount: stUSD("50.00")}}})
		require.NoError(t, err)
		cart := settlement.Cart{Currency: money.USD, Lines: []settlement.Line{{ID: "l1", SKU: "tee", Merchant: "m1", UnitPrice: stUSD("20.00"), Quantity: 1}}}

		writers := h.writers()
		var wg sync.WaitGroup
		paid := make([]bool, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc := pick(w, a, b)
				id := fmt.Sprintf("o%d", w)
				offers, err := svc.svc.Offers(ctx, settlement.OffersRequest{Tenant: tenantA, UserID: "shared", Cart: cart, CouponIDs: []string{ids[w%coupons]}})
				if err != nil {
					return // the coupon is already locked by another order
				}
				o, err := svc.svc.CreateOrder(ctx, settlement.CreateRequest{Tenant: tenantA, OrderID: id, UserID: "shared", Cart: cart, Offers: offers,
					GiftCards: []settlement.GiftCard{{Account: "giftcard:g1", Amount: stUSD("7.00")}}})
				if err != nil {
					if !errors.Is(err, coupon.ErrLocked) && !errors.Is(err, coupon.ErrUsed) && !errors.Is(err, ledger.ErrInsufficientFunds) && !storage.IsRetryable(err) && !errors.Is(err, storage.ErrLockTimeout) {
						t.Errorf("create %s: %v", id, err)
					}
					return
				}
				if _, err := svc.svc.Pay(ctx, settlement.PayRequest{Tenant: tenantA, OrderID: id, PaymentRef: "p-" + id, Amount: o.Tenders[0].Amount}); err != nil {
					if !storage.IsRetryable(err) && !errors.Is(err, storage.ErrLockTimeout) {
						t.Errorf("pay %s: %v", id, err)
					}
					return
				}
				paid[w] = true
			}()
		}
		wg.Wait()

		npaid := 0
		for _, p := range paid {
			if p {
				npaid++
			}
		}
		assert.Positive(t, npaid)
		assert.LessOrEqual(t, npaid, coupons, "one paid order per coupon")
		users := map[string]string{}
		for _, id := range ids {
			c, err := a.cps.Coupon(ctx, tenantA, id)
			require.NoError(t, err)
			if c.State == coupon.StateUsed {
				if prev, dup := users[c.OrderID]; dup {
					t.Errorf("order %s used coupons %s and %s", c.OrderID, prev, id)
				}
				users[c.OrderID] = id
			}
		}
		assert.Len(t, users, npaid, "every paid order used exactly its coupon")
		card, err := a.led.Balance(ctx, tenantA, "giftcard:g1", money.USD)
		require.NoError(t, err)
		assert.False(t, card.Available.IsNegative(), "the gift card is never overspent")
		spent := stUSD("7.00").Mul(decimal.NewFromInt(int64(npaid)))
		rest, _ := stUSD("50.00").Sub(spent)
		assert.True(t, card.Posted.Equal(rest), "card %s, want %s", card.Posted, rest)
		clearing, err := a.led.Balance(ctx, tenantA, settlement.ClearingAccount, money.USD)
		require.NoError(t, err)
		assert.True(t, clearing.Posted.Equal(stUSD("15.00").Mul(decimal.NewFromInt(int64(npaid)))), "clearing holds every paid total")
		world, err := a.led.Balance(ctx, tenantA, ledger.World, money.USD)
		require.NoError(t, err)
		sum, _ := world.Posted.Add(card.Posted)
		sum, _ = sum.Add(clearing.Posted)
		assert.True(t, sum.IsZero(), "the ledger balances: world %s, card %s, clearing %s", world.Posted, card.Posted, clearing.Posted)
		// cancel what is still waiting for payment, then everything reconciles
		clock.Advance(time.Hour)
		_, err = a.svc.CancelExpired(ctx, tenantA, 1000)
		require.NoError(t, err)
		rep, err := a.svc.Reconcile(ctx, tenantA)
		require.NoError(t, err)
		assert.True(t, rep.OK(), "%v", rep.Mismatches)
	})
}
