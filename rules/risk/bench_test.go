package risk_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/rules/risk"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

func benchEngine(b *testing.B) *risk.Engine {
	s := memory.MustNew()
	e, err := risk.New(risk.Config{
		Store: s.Risk(),
		Clock: storage.NewFakeClock(t0),
		Policies: []risk.Policy{
			risk.Velocity{Name: "claims-per-ip", By: risk.IP, Limit: 10, Window: 5 * time.Minute, Outcome: risk.Freeze},
			risk.DenyList{Name: "denied", Lists: []risk.Subject{risk.Phone, risk.Device}, Outcome: risk.Reject},
			risk.Threshold{Name: "high-value", Min: []money.Amount{money.MustParse("1000", money.USD)}, Outcome: risk.Review},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if err := e.Deny(context.Background(), tenant, risk.Entry{List: risk.Device, Value: "bad-" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

func benchActions(n int) []risk.Action {
	amount := money.MustParse("150.00", money.USD)
	out := make([]risk.Action, n)
	for i := range out {
		out[i] = risk.Action{Kind: "coupon.redeem", UserID: "u" + strconv.Itoa(i), IP: "10.0." + strconv.Itoa(i%256) + "." + strconv.Itoa(i/256%256),
			DeviceID: "dev-" + strconv.Itoa(i), Phone: "+86138" + strconv.Itoa(i), Amount: amount}
	}
	return out
}

// BenchmarkCheck: Check with 3 policies (velocity, deny list, threshold)
// on the memory store; 4096 IPs, so most checks are admitted.
func BenchmarkCheck(b *testing.B) {
	e := benchEngine(b)
	acts := benchActions(4096)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := e.Check(ctx, tenant, acts[i%len(acts)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCheckParallel is BenchmarkCheck from GOMAXPROCS goroutines.
func BenchmarkCheckParallel(b *testing.B) {
	e := benchEngine(b)
	acts := benchActions(4096)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := e.Check(ctx, tenant, acts[i%len(acts)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkAssess is the dry run with the same 3 policies.
func BenchmarkAssess(b *testing.B) {
	e := benchEngine(b)
	acts := benchActions(4096)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := e.Assess(ctx, tenant, acts[i%len(acts)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
