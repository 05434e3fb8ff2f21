package settlement_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

// budgetPromo creates the automatic promotion "spend 10 save 4" with a
// budget.
func (e *env) budgetPromo(budget money.Amount) {
	e.t.Helper()
	_, err := e.cps.CreateTemplate(e.ctx, coupon.Template{Tenant: shop, ID: "save4", Name: "Spend 10 save 4", Auto: true,
		Benefit:  coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, MinSpend: dollars("10"), Amount: dollars("4")},
		Validity: validity(), Limits: coupon.Limits{Budget: budget}})
	require.NoError(e.t, err)
}

func oneLine() settlement.Cart {
	return settlement.Cart{Currency: money.USD, Lines: []settlement.Line{
		{ID: "l1", SKU: "tee", Merchant: "m1", UnitPrice: dollars("20.00"), Quantity: 1}}}
}

// promoSpent is what the orders' budgeted promotion discounts add up to.
func promoSpent(t testing.TB, orders ...settlement.Order) money.Amount {
	t.Helper()
	sum := money.Zero(money.USD)
	for _, o := range orders {
		for _, d := range o.Discounts {
			if d.Budgeted {
				var err error
				sum, err = sum.Add(d.Amount)
				require.NoError(t, err)
			}
		}
	}
	return sum
}

// A promotion's budget is charged when the order is created: a snapshot
// taken before others spent it fails with ErrRequote and writes nothing,
// a fresh one is capped at what is left, and cancelling or fully
// refunding gives the discount back.
func TestPromotionBudget(t *testing.T) {
	e := newEnv(t, nil)
	e.budgetPromo(dollars("10.00"))
	cart := oneLine()
	offers := func(user string) []settlement.Offer {
		of, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: user, Cart: cart})
		require.NoError(t, err)
		require.Len(t, of, 1)
		return of
	}
	create := func(id, user string, of []settlement.Offer) (settlement.Order, error) {
		return e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: id, UserID: user, Channel: "app", Cart: cart, Offers: of})
	}
	left := func() money.Amount {
		of := offers("probe")
		require.NotNil(t, of[0].BudgetLeft)
		return *of[0].BudgetLeft
	}

	stale := offers("ann")
	assert.True(t, stale[0].BudgetLeft.Equal(dollars("10.00")))
	o1, err := create("o1", "bob", offers("bob"))
	require.NoError(t, err)
	require.Len(t, o1.Discounts, 1)
	assert.True(t, o1.Discounts[0].Budgeted)
	assert.True(t, o1.Discounts[0].Amount.Equal(dollars("4.00")))
	o2, err := create("o2", "cat", offers("cat"))
	require.NoError(t, err)
	assert.True(t, left().Equal(dollars("2.00")))

	// ann's snapshot promised 4.00 of a budget that has 2.00 left
	_, err = create("oa", "ann", stale)
	require.ErrorIs(t, err, settlement.ErrRequote)
	require.ErrorIs(t, err, coupon.ErrBudgetExhausted)
	_, err = e.svc.Order(e.ctx, shop, "oa")
	require.ErrorIs(t, err, settlement.ErrOrderNotFound)
	assert.True(t, left().Equal(dollars("2.00")), "a refused order charges nothing")
	// a fresh snapshot is capped at what is left
	oa, err := create("oa", "ann", offers("ann"))
	require.NoError(t, err)
	assert.True(t, oa.Discounts[0].Amount.Equal(dollars("2.00")))
	assert.True(t, left().IsZero())
	// replaying the creation returns the order and charges nothing more
	again, err := create("oa", "ann", offers("ann"))
	require.NoError(t, err)
	assert.Equal(t, oa.Version, again.Version)
	assert.True(t, left().IsZero())

	// an exhausted budget: the promotion does not apply, the order still goes
	o3, err := create("o3", "dan", offers("dan"))
	require.NoError(t, err)
	assert.Empty(t, o3.Discounts)

	// cancel gives 4.00 back, a full refund another 4.00
	_, err = e.svc.Cancel(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1"})
	require.NoError(t, err)
	assert.True(t, left().Equal(dollars("4.00")))
	_, err = e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: "o2", PaymentRef: "p2", Amount: o2.Tenders[0].Amount})
	require.NoError(t, err)
	_, err = e.svc.Refund(e.ctx, settlement.RefundRequest{Tenant: shop, OrderID: "o2", Key: "r1", Items: []settlement.RefundItem{{LineID: "l1", Quantity: 1}}})
	require.NoError(t, err)
	assert.True(t, left().Equal(dollars("8.00")))
	// cancelling again (a retry) gives nothing more back
	_, err = e.svc.Cancel(e.ctx, settlement.OrderRequest{Tenant: shop, OrderID: "o1"})
	require.NoError(t, err)
	assert.True(t, left().Equal(dollars("8.00")))
}

// Many concurrent checkouts against one promotion budget never overrun
// it: what the created orders were granted adds up to what the budget
// spent, and never more than the budget; the losers of a race get
// ErrRequote.
func TestPromotionBudgetConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	e.budgetPromo(dollars("50.00")) // 12 discounts of 4.00, then 2.00
	cart := oneLine()
	const buyers = 40
	orders := make([]settlement.Order, buyers)
	created := make([]bool, buyers)
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("u%d", i)
			of, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: user, Cart: cart})
			if !assert.NoError(t, err) {
				return
			}
			o, err := e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: "o" + user, UserID: user, Channel: "app",
				Cart: cart, Offers: of})
			if err != nil {
				assert.ErrorIs(t, err, settlement.ErrRequote)
				return
			}
			orders[i], created[i] = o, true
		}()
	}
	wg.Wait()
	var got []settlement.Order
	for i := range orders {
		if created[i] {
			got = append(got, orders[i])
		}
	}
	spent := promoSpent(t, got...)
	cmp, err := spent.Cmp(dollars("50.00"))
	require.NoError(t, err)
	assert.LessOrEqual(t, cmp, 0, "granted %s of a 50.00 budget", spent)
	of, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: "probe", Cart: cart})
	require.NoError(t, err)
	left, err := dollars("50.00").Sub(spent)
	require.NoError(t, err)
	assert.True(t, of[0].BudgetLeft.Equal(left), "the budget spent %s, the orders were granted %s", of[0].BudgetLeft, spent)
}
