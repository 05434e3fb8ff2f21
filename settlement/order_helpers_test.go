package settlement_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

const shop storage.TenantID = "shop"

var t0 = time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC)

// env is one tenant's checkout on a fresh memory store.
type env struct {
	t     testing.TB
	ctx   context.Context
	clock *storage.FakeClock
	store *memory.Store
	led   *ledger.Ledger
	cps   *coupon.Service
	svc   *settlement.Service
}

func testSplit() []settlement.Share {
	return []settlement.Share{
		{Party: settlement.PartyPlatform, Ratio: decimal.RequireFromString("0.10")},
		{Party: settlement.PartyMerchant, Ratio: decimal.RequireFromString("0.85")},
		{Party: settlement.PartyChannel, Ratio: decimal.RequireFromString("0.05")},
	}
}

func testCycles() []settlement.Cycle {
	return []settlement.Cycle{
		{Party: "platform", Kind: settlement.CycleDaily, Days: 1},
		{Party: "merchant:", Kind: settlement.CycleDaily, Days: 3},
		{Party: "channel:", Kind: settlement.CycleMonthly},
		{Party: "*", Kind: settlement.CycleDaily, Days: 1},
	}
}

func newEnv(t testing.TB, mod func(*settlement.Config)) *env {
	t.Helper()
	clock := storage.NewFakeClock(t0)
	st, err := memory.New(memory.Options{Clock: clock})
	require.NoError(t, err)
	led, err := ledger.New(ledger.Config{Store: st.Ledger(), Tx: st, Clock: clock})
	require.NoError(t, err)
	re, err := rules.NewEnv()
	require.NoError(t, err)
	cps, err := coupon.New(coupon.Config{Store: st.Coupons(), Tx: st, Clock: clock, Rules: re})
	require.NoError(t, err)
	cfg := settlement.Config{Store: st.Settlement(), Tx: st, Ledger: led, Coupons: cps, CouponStore: st.Coupons(), Clock: clock,
		Split: testSplit(), Cycles: testCycles(), TimeZone: func(storage.TenantID) string { return "Asia/Shanghai" }}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := settlement.New(cfg)
	require.NoError(t, err)
	return &env{t: t, ctx: context.Background(), clock: clock, store: st, led: led, cps: cps, svc: svc}
}

func dollars(s string) money.Amount { return money.MustParse(s, money.USD) }

func validity() coupon.Validity {
	return coupon.Validity{Start: t0.Add(-time.Hour), End: t0.Add(365 * 24 * time.Hour)}
}

// setupTemplates creates the automatic promotion "spend 100 save 10"
// (platform funded) and the 20%-off coupon template "pct20" (capped at 50,
// funded half by the platform, half by the merchant, restored on refund).
func (e *env) setupTemplates(budget money.Amount) {
	e.t.Helper()
	_, err := e.cps.CreateTemplate(e.ctx, coupon.Template{Tenant: shop, ID: "promo100", Name: "Spend 100 save 10", Auto: true,
		Benefit:  coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, MinSpend: dollars("100"), Amount: dollars("10")},
		Stacking: coupon.Stacking{Priority: 1},
		Validity: validity()})
	require.NoError(e.t, err)
	_, err = e.cps.CreateTemplate(e.ctx, coupon.Template{Tenant: shop, ID: "pct20", Name: "20% off",
		Benefit:  coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(20), Cap: dollars("50")},
		Stacking: coupon.Stacking{Priority: 2, OnDiscounted: true},
		Funding: coupon.Funding{{Party: coupon.PartyPlatform, Ratio: decimal.RequireFromString("0.5")},
			{Party: coupon.PartyMerchant, Ratio: decimal.RequireFromString("0.5")}},
		Validity: validity(), Limits: coupon.Limits{Budget: budget}, Refund: coupon.RefundRestore})
	require.NoError(e.t, err)
}

func (e *env) claim(user string) coupon.Coupon {
	e.t.Helper()
	c, err := e.cps.Claim(e.ctx, coupon.ClaimRequest{Tenant: shop, TemplateID: "pct20", UserID: user})
	require.NoError(e.t, err)
	return c
}

// fundGiftCard loads a gift card account with amount.
func (e *env) fundGiftCard(account string, amount money.Amount) {
	e.t.Helper()
	_, err := e.led.Transfer(e.ctx, shop, ledger.TransferRequest{Key: "load:" + account,
		Postings: []ledger.Posting{{Source: ledger.World, Destination: account, Amount: amount}}})
	require.NoError(e.t, err)
}

func (e *env) balance(account string) money.Amount {
	e.t.Helper()
	b, err := e.led.Balance(e.ctx, shop, account, money.USD)
	require.NoError(e.t, err)
	return b.Posted
}

func (e *env) available(account string) money.Amount {
	e.t.Helper()
	b, err := e.led.Balance(e.ctx, shop, account, money.USD)
	require.NoError(e.t, err)
	return b.Available
}

func (e *env) outboxTopics() []string {
	e.t.Helper()
	var out []string
	for p := range storage.OutboxPartitions {
		msgs, err := e.store.PendingOutbox(e.ctx, p, 10000)
		require.NoError(e.t, err)
		for _, m := range msgs {
			if m.AggregateType == settlement.AggregateOrder || m.AggregateType == settlement.AggregateStatement {
				out = append(out, m.Topic)
			}
		}
	}
	return out
}

func fiveLines() settlement.Cart {
	return settlement.Cart{Currency: money.USD, Shipping: dollars("8.00"), ShippingMerchant: "m1", Lines: []settlement.Line{
		{ID: "l1", SKU: "tee", Category: "apparel", Merchant: "m1", UnitPrice: dollars("19.99"), Quantity: 3},
		{ID: "l2", SKU: "cap", Category: "apparel", Merchant: "m1", UnitPrice: dollars("12.50"), Quantity: 1},
		{ID: "l3", SKU: "mug", Category: "home", Merchant: "m2", UnitPrice: dollars("9.95"), Quantity: 2},
		{ID: "l4", SKU: "pen", Category: "office", Merchant: "m2", UnitPrice: dollars("1.99"), Quantity: 7},
		{ID: "l5", SKU: "bag", Category: "apparel", Merchant: "m3", UnitPrice: dollars("45.00"), Quantity: 1},
	}}
}

// checkout creates and pays an order of cart with the user's coupons and
// a gift card amount (zero: none).
func (e *env) checkout(id, user string, cart settlement.Cart, coupons []string, card string, cardAmt money.Amount) settlement.Order {
	e.t.Helper()
	offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: user, Cart: cart, CouponIDs: coupons})
	require.NoError(e.t, err)
	req := settlement.CreateRequest{Tenant: shop, OrderID: id, UserID: user, Channel: "app", Cart: cart, Offers: offers}
	if cardAmt.IsPositive() {
		req.GiftCards = []settlement.GiftCard{{Account: card, Amount: cardAmt}}
	}
	o, err := e.svc.CreateOrder(e.ctx, req)
	require.NoError(e.t, err)
	o, err = e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: id, PaymentRef: "psp-" + id, Amount: o.Tenders[0].Amount})
	require.NoError(e.t, err)
	return o
}

func sumParties(t testing.TB, e *env, parties ...string) money.Amount {
	t.Helper()
	total := money.Zero(money.USD)
	for _, p := range parties {
		total, _ = total.Add(e.balance(settlement.PayableAccount(p)))
	}
	return total
}
