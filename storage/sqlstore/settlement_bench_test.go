package sqlstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/internal/pgtest"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules"
	"github.com/rewardkit/rewardkit/settlement"
	"github.com/rewardkit/rewardkit/storage/sqlstore"
)

// BenchmarkCheckoutPostgres runs full checkouts (offer snapshot, order
// with one coupon locked, payment with the coupon used and the ledger
// posted) of a five-line cart on PostgreSQL over 16 connections, from 16
// goroutines.
func BenchmarkCheckoutPostgres(b *testing.B) {
	ctx := context.Background()
	s, err := sqlstore.OpenPostgres(ctx, pgtest.DSN(b), sqlstore.Options{MaxConns: 16})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	led, err := ledger.New(ledger.Config{Store: s.Ledger(), Tx: s})
	require.NoError(b, err)
	env, err := rules.NewEnv()
	require.NoError(b, err)
	cps, err := coupon.New(coupon.Config{Store: s.Coupons(), Tx: s, Rules: env})
	require.NoError(b, err)
	svc, err := settlement.New(settlement.Config{Store: s.Settlement(), Tx: s, Ledger: led, Coupons: cps})
	require.NoError(b, err)
	usd := func(v string) money.Amount { return money.MustParse(v, money.USD) }
	_, err = cps.CreateTemplate(ctx, coupon.Template{Tenant: tenantA, ID: "pct",
		Benefit:  coupon.Benefit{Kind: coupon.KindPercentOff, Currency: money.USD, Percent: decimal.NewFromInt(10)},
		Validity: coupon.Validity{Start: time.Now().Add(-time.Hour), End: time.Now().Add(24 * time.Hour)}})
	require.NoError(b, err)
	ids := make([]string, b.N)
	for i := range ids {
		c, err := cps.Claim(ctx, coupon.ClaimRequest{Tenant: tenantA, TemplateID: "pct", UserID: fmt.Sprintf("u%d", i)})
		require.NoError(b, err)
		ids[i] = c.ID
	}
	cart := settlement.Cart{Currency: money.USD, Lines: []settlement.Line{
		{ID: "l1", SKU: "a", Merchant: "m1", UnitPrice: usd("19.99"), Quantity: 3},
		{ID: "l2", SKU: "b", Merchant: "m1", UnitPrice: usd("12.50"), Quantity: 1},
		{ID: "l3", SKU: "c", Merchant: "m2", UnitPrice: usd("9.95"), Quantity: 2},
		{ID: "l4", SKU: "d", Merchant: "m2", UnitPrice: usd("1.99"), Quantity: 7},
		{ID: "l5", SKU: "e", Merchant: "m3", UnitPrice: usd("45.00"), Quantity: 1},
	}}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			user, id := fmt.Sprintf("u%d", i), fmt.Sprintf("o%d", i)
			offers, err := svc.Offers(ctx, settlement.OffersRequest{Tenant: tenantA, UserID: user, Cart: cart, CouponIDs: []string{ids[i]}})
			if err != nil {
				b.Error(err)
				return
			}
			o, err := svc.CreateOrder(ctx, settlement.CreateRequest{Tenant: tenantA, OrderID: id, UserID: user, Cart: cart, Offers: offers})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := svc.Pay(ctx, settlement.PayRequest{Tenant: tenantA, OrderID: id, PaymentRef: "p" + id, Amount: o.Tenders[0].Amount}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkouts/s")
}
