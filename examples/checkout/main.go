package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

const tenant storage.TenantID = "acme-mall"

func usd(s string) money.Amount { return money.MustParse(s, money.USD) }

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	clock := storage.NewFakeClock(time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC))
	store, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		return err
	}
	led, err := ledger.New(ledger.Config{Store: store.Ledger(), Tx: store, Clock: clock})
	if err != nil {
		return err
	}
	env, err := rules.NewEnv()
	if err != nil {
		return err
	}
	coupons, err := coupon.New(coupon.Config{Store: store.Coupons(), Tx: store, Clock: clock, Rules: env})
	if err != nil {
		return err
	}
	svc, err := settlement.New(settlement.Config{
		Store: store.Settlement(), Tx: store, Ledger: led, Coupons: coupons, CouponStore: store.Coupons(), Clock: clock,
		Split: []settlement.Share{
			{Party: settlement.PartyPlatform, Ratio: decimal.RequireFromString("0.10")},
			{Party: settlement.PartyMerchant, Ratio: decimal.RequireFromString("0.85")},
			{Party: settlement.PartyChannel, Ratio: decimal.RequireFromString("0.05")},
		},
		Cycles: []settlement.Cycle{
			{Party: "platform", Kind: settlement.CycleDaily, Days: 1},
			{Party: "merchant:", Kind: settlement.CycleDaily, Days: 3},
			{Party: "channel:", Kind: settlement.CycleMonthly},
		},
		TimeZone: func(storage.TenantID) string { return "Asia/Shanghai" },
	})
	if err != nil {
		return err
	}

	// Promotions and coupons.
	valid := coupon.Validity{Start: clock.Now().Add(-time.Hour), End: clock.Now().AddDate(0, 1, 0)}
	if _, err := coupons.CreateTemplate(ctx, coupon.Template{Tenant: tenant, ID: "spend100", Name: "Spend 100, save 10", Auto: true,
		Benefit:  coupon.Benefit{Kind: coupon.KindThreshold, Currency: money.USD, MinSpend: usd("100"), Amount: usd("10")},
		Stacking: coupon.Stacking{Priority: 1}, Validity: valid}); err != nil {
		return err
	}
	if _, err := coupons.CreateTemplate(ctx, coupon.Template{Tenant: tenant, ID: "pct15", Name: "15% off, merchant co-funded",
		Benefit:  coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(15), Cap: usd("30")},
		Stacking: coupon.Stacking{Priority: 2, OnDiscounted: true},
		Funding: coupon.Funding{{Party: coupon.PartyPlatform, Ratio: decimal.RequireFromString("0.4")},
			{Party: coupon.PartyMerchant, Ratio: decimal.RequireFromString("0.6")}},
		Validity: valid, Refund: coupon.RefundRestore}); err != nil {
		return err
	}
	cp, err := coupons.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "pct15", UserID: "alice"})
	if err != nil {
		return err
	}
	// A gift card is stored value on a ledger account, loaded when sold.
	if _, err := led.Transfer(ctx, tenant, ledger.TransferRequest{Key: "giftcard:GC-1:load",
		Postings: []ledger.Posting{{Source: ledger.World, Destination: "giftcard:GC-1", Amount: usd("25.00")}}}); err != nil {
		return err
	}

	// Price and create the order.
	cart := settlement.Cart{Currency: money.USD, Shipping: usd("6.00"), ShippingMerchant: "sunny", Lines: []settlement.Line{
		{ID: "l1", SKU: "tee", Category: "apparel", Merchant: "sunny", UnitPrice: usd("24.90"), Quantity: 3},
		{ID: "l2", SKU: "mug", Category: "home", Merchant: "clay", UnitPrice: usd("12.00"), Quantity: 2},
		{ID: "l3", SKU: "lamp", Category: "home", Merchant: "clay", UnitPrice: usd("39.00"), Quantity: 1},
	}}
	offers, err := svc.Offers(ctx, settlement.OffersRequest{Tenant: tenant, UserID: "alice", Cart: cart, CouponIDs: []string{cp.ID}})
	if err != nil {
		return err
	}
	o, err := svc.CreateOrder(ctx, settlement.CreateRequest{Tenant: tenant, OrderID: "A-1001", UserID: "alice", Channel: "app",
		Cart: cart, Offers: offers, GiftCards: []settlement.GiftCard{{Account: "giftcard:GC-1", Amount: usd("25.00")}}})
	if err != nil {
		return err
	}
	printOrder(o)

	// Pay what the gift card does not cover, ship, confirm.
	if o, err = svc.Pay(ctx, settlement.PayRequest{Tenant: tenant, OrderID: o.ID, PaymentRef: "PSP-77", Amount: o.Tenders[0].Amount}); err != nil {
		return err
	}
	fmt.Printf("\npaid %s by card PSP-77 and %s by gift card: %s\n", o.Tenders[0].Amount, o.Tenders[1].Amount, o.State)
	if _, err = svc.Fulfil(ctx, settlement.OrderRequest{Tenant: tenant, OrderID: o.ID}); err != nil {
		return err
	}
	if o, err = svc.Complete(ctx, settlement.OrderRequest{Tenant: tenant, OrderID: o.ID}); err != nil {
		return err
	}
	fmt.Printf("completed and cleared:\n")
	printPayables(ctx, led, "platform", "merchant:sunny", "merchant:clay", "channel:app")

	// A partial refund: one mug, a day later.
	clock.Advance(24 * time.Hour)
	if o, err = svc.Refund(ctx, settlement.RefundRequest{Tenant: tenant, OrderID: o.ID, Key: "RMA-1",
		Items: []settlement.RefundItem{{LineID: "l2", Quantity: 1}}, Reason: "chipped"}); err != nil {
		return err
	}
	r := o.Refunds[0]
	fmt.Printf("\nrefund RMA-1: %s (card %s, gift card %s), order back to %s\n", r.Amount, r.Tenders[0], r.Tenders[1], o.State)
	for _, c := range r.Clawback {
		fmt.Printf("  clawback %-15s %8s\n", c.Party, c.Amount.StringFixed())
	}

	// Settlement cycles, run on Aug 16 (Shanghai time).
	clock.Set(time.Date(2025, 8, 16, 9, 0, 0, 0, time.UTC))
	res, err := svc.RunCycles(ctx, tenant)
	if err != nil {
		return err
	}
	fmt.Printf("\nstatements due by %s:\n", clock.Now().Format("2006-01-02 15:04 MST"))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "statement\tcycle\titems\ttotal\tstatus\t")
	for _, st := range res.Statements {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t\n", st.ID, st.Cycle, len(st.Items), st.Total.StringFixed(), st.Status)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	payout, err := led.Balance(ctx, tenant, settlement.PayoutAccount, money.USD)
	if err != nil {
		return err
	}
	fmt.Printf("moved to payout: %s (the channel settles monthly)\n", payout.Posted)

	// Reconciliation: orders, coupons and ledger agree.
	rep, err := svc.Reconcile(ctx, tenant)
	if err != nil {
		return err
	}
	fmt.Printf("\nreconciliation: %d orders, %d ledger transactions, %d used coupons checked, %d mismatches\n",
		rep.Orders, rep.Postings, rep.Coupons, len(rep.Mismatches))
	for _, m := range rep.Mismatches {
		fmt.Println("  ", m)
	}
	return nil
}

func printOrder(o settlement.Order) {
	fmt.Printf("order %s for %s (%s), %s\n", o.ID, o.UserID, o.Tenant, o.State)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "line\tqty\tamount\tdiscount\tnet\tfunded by\t")
	for _, l := range o.Lines {
		funded := " -"
		if len(l.Funding) > 0 {
			funded = ""
		}
		for _, f := range l.Funding {
			funded += fmt.Sprintf(" %s %s", f.Party, f.Amount.StringFixed())
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t\n", l.ID, l.Quantity, l.Amount.StringFixed(), l.Discount.StringFixed(), l.Net.StringFixed(), funded)
	}
	_ = w.Flush()
	for _, d := range o.Discounts {
		name := d.OfferID // promotions have stable IDs, coupons random ones: name those by template
		if d.CouponID != "" {
			name = "coupon of " + d.TemplateID
		}
		fmt.Printf("  %-18s -%s\n", name, d.Amount.StringFixed())
	}
	fmt.Printf("  subtotal %s, discount %s, total %s: gift card %s, to pay %s\n",
		o.Subtotal.StringFixed(), o.Discount.StringFixed(), o.Total.StringFixed(), o.Tenders[1].Amount.StringFixed(), o.Tenders[0].Amount.StringFixed())
}

func printPayables(ctx context.Context, led *ledger.Ledger, parties ...string) {
	for _, p := range parties {
		b, err := led.Balance(ctx, tenant, settlement.PayableAccount(p), money.USD)
		if err != nil {
			fmt.Println("  ", p, err)
			continue
		}
		fmt.Printf("  %-15s %8s\n", p, b.Posted.StringFixed())
	}
}
