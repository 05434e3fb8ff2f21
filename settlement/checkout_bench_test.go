package settlement_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/cputime"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/settlement"
)

// BenchmarkCheckout runs the full checkout of a five-line cart with one
// coupon and the automatic promotion on the memory store: the offer
// snapshot, pricing and order creation (coupon locked), and payment
// (coupon used, ledger posted), in parallel.
//
// Besides checkouts/s it reports the CPU and page faults of a checkout
// (cpu-ns/op, faults/op): every checkout leaves about 3 KB in the store,
// 1 KB of records on the heap, which grows the heap about twice that
// (GOGC=100), and 2 KB of text, kept outside the heap on Linux (see
// package memory). Fresh pages are touched on every checkout, at about
// 12 µs apiece on the VMs we measure on.
func BenchmarkCheckout(b *testing.B) {
	e := newEnv(b, nil)
	e.setupTemplates(money.Amount{})
	coupons := make([]string, b.N)
	for i := range coupons {
		coupons[i] = e.claim(fmt.Sprintf("u%d", i)).ID
	}
	cart := fiveLines()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			user, id := fmt.Sprintf("u%d", i), fmt.Sprintf("o%d", i)
			offers, err := e.svc.Offers(e.ctx, settlement.OffersRequest{Tenant: shop, UserID: user, Cart: cart, CouponIDs: []string{coupons[i]}})
			if err != nil {
				b.Fatal(err)
			}
			o, err := e.svc.CreateOrder(e.ctx, settlement.CreateRequest{Tenant: shop, OrderID: id, UserID: user, Channel: "app", Cart: cart, Offers: offers})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.svc.Pay(e.ctx, settlement.PayRequest{Tenant: shop, OrderID: id, PaymentRef: "p" + id, Amount: o.Tenders[0].Amount}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	cputime.Report(b, cpu, b.N, "checkouts")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkouts/s")
	o, err := e.svc.Order(e.ctx, shop, "o0")
	require.NoError(b, err)
	require.Len(b, o.Discounts, 2)
}
