package coupon_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/coupon"
)

// BenchmarkClaimMemory: one claim (per-user cap, stock, audit, outbox) in
// the memory adapter. Target: <= 10us.
func BenchmarkClaimMemory(b *testing.B) {
	f := newFixture(b)
	tpl := tenOff("t1")
	tpl.Limits = coupon.Limits{Stock: 1 << 40, PerUser: 1}
	f.create(b, tpl)
	ctx := context.Background()
	users := make([]string, b.N+1)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "t1", UserID: users[i]}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaimMemoryKeyed is a claim under an idempotency request key.
func BenchmarkClaimMemoryKeyed(b *testing.B) {
	f := newFixture(b)
	tpl := tenOff("t1")
	tpl.Limits = coupon.Limits{Stock: 1 << 40, PerUser: 1}
	f.create(b, tpl)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := fmt.Sprintf("u%d", i)
		if _, err := f.svc.Claim(ctx, coupon.ClaimRequest{Tenant: tenant, TemplateID: "t1", UserID: u, RequestKey: u}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLifecycleTransition: one persisted transition (freeze or
// unfreeze: FSM, conditional update, audit, outbox) in memory.
func BenchmarkLifecycleTransition(b *testing.B) {
	f := newFixture(b)
	f.create(b, tenOff("t1"))
	c := f.claim(b, "t1", "u1")
	ctx := context.Background()
	req := coupon.CouponRequest{Tenant: tenant, CouponID: c.ID, Actor: "risk"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if i%2 == 0 {
			_, err = f.svc.Freeze(ctx, req)
		} else {
			_, err = f.svc.Unfreeze(ctx, req)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateCodesMemory stores codes of a template in memory, in
// chunks of 1000.
func BenchmarkGenerateCodesMemory(b *testing.B) {
	f := newFixture(b)
	tpl := tenOff("t1")
	tpl.Limits = coupon.Limits{}
	f.create(b, tpl)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	codes, err := f.svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: tenant, TemplateID: "t1", Count: b.N})
	require.NoError(b, err)
	require.Len(b, codes, b.N)
}
