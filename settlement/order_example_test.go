package settlement_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// ExampleService shows an order from checkout to a partial refund on the
// memory store: a 10% coupon, payment, completion (clearing platform 10% /
// merchant 90%, the platform funding the coupon) and the refund of one unit.
func ExampleService() {
	ctx := context.Background()
	clock := storage.NewFakeClock(time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC))
	store, _ := memory.New(memory.Options{Clock: clock})
	led, _ := ledger.New(ledger.Config{Store: store.Ledger(), Tx: store, Clock: clock})
	coupons, _ := coupon.New(coupon.Config{Store: store.Coupons(), Tx: store, Clock: clock})
	svc, err := settlement.New(settlement.Config{Store: store.Settlement(), Tx: store, Ledger: led, Coupons: coupons, Clock: clock,
		Split: []settlement.Share{{Party: "platform", Ratio: decimal.RequireFromString("0.1")}, {Party: "merchant", Ratio: decimal.RequireFromString("0.9")}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = coupons.CreateTemplate(ctx, coupon.Template{Tenant: "shop", ID: "ten",
		Benefit:  coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(10)},
		Validity: coupon.Validity{End: clock.Now().Add(24 * time.Hour)}})
	c, _ := coupons.Claim(ctx, coupon.ClaimRequest{Tenant: "shop", TemplateID: "ten", UserID: "ann"})

	cart := settlement.Cart{Currency: money.USD, Lines: []settlement.Line{
		{ID: "l1", SKU: "tee", Merchant: "m1", UnitPrice: money.MustParse("10.00", money.USD), Quantity: 3}}}
	offers, _ := svc.Offers(ctx, settlement.OffersRequest{Tenant: "shop", UserID: "ann", Cart: cart, CouponIDs: []string{c.ID}})
	o, _ := svc.CreateOrder(ctx, settlement.CreateRequest{Tenant: "shop", OrderID: "A-1", UserID: "ann", Cart: cart, Offers: offers})
	o, _ = svc.Pay(ctx, settlement.PayRequest{Tenant: "shop", OrderID: "A-1", PaymentRef: "psp-1", Amount: o.Total})
	_, _ = svc.Fulfil(ctx, settlement.OrderRequest{Tenant: "shop", OrderID: "A-1"})
	o, _ = svc.Complete(ctx, settlement.OrderRequest{Tenant: "shop", OrderID: "A-1"})
	fmt.Println(o.State, "total", o.Total)
	for _, p := range []string{"platform", "merchant:m1"} {
		b, _ := led.Balance(ctx, "shop", settlement.PayableAccount(p), money.USD)
		fmt.Println(" ", p, b.Posted)
	}
	o, err = svc.Refund(ctx, settlement.RefundRequest{Tenant: "shop", OrderID: "A-1", Key: "rma-1",
		Items: []settlement.RefundItem{{LineID: "l1", Quantity: 1}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("refunded", o.Refunds[0].Amount, "->", o.State)
	for _, cb := range o.Refunds[0].Clawback {
		fmt.Println("  clawback", cb.Party, cb.Amount)
	}
	// Output:
	// COMPLETED total 27.00 USD
	//   platform 0.00 USD
	//   merchant:m1 27.00 USD
	// refunded 9.00 USD -> COMPLETED
	//   clawback merchant:m1 9.00 USD
}
