package money_test

import (
	"testing"

	"github.com/rewardkit/rewardkit/money"
	"github.com/shopspring/decimal"
)

func BenchmarkAllocate(b *testing.B) {
	total := money.MustParse("1234.57", money.USD)
	weights := make([]decimal.Decimal, 10)
	for i := range weights {
		weights[i] = decimal.New(int64(1999+i*137), -2) // line prices
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := money.Allocate(total, weights); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllocateMinor(b *testing.B) {
	weights := make([]int64, 10)
	for i := range weights {
		weights[i] = int64(1999 + i*137)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := money.AllocateMinor(123457, weights); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	x := money.MustParse("12.30", money.USD)
	y := money.MustParse("0.75", money.USD)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Add(y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := money.Parse("1234.50", money.USD); err != nil {
			b.Fatal(err)
		}
	}
}
