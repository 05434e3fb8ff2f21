package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/coupon"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/money"
	"github.com/rewardkit/rewardkit/storage"
	"github.com/rewardkit/rewardkit/storage/memory"
)

// newExampleService wires a Service over the memory adapter with a fixed
// clock.
func newExampleService() (*coupon.Service, *storage.FakeClock) {
	clock := storage.NewFakeClock(time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC))
	mem, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		panic(err)
	}
	svc, err := coupon.New(coupon.Config{Store: mem.Coupons(), Tx: mem, Clock: clock})
	if err != nil {
		panic(err)
	}
	return svc, clock
}

// A "20% off, at most 500" coupon: claimed, locked for an order, used when
// the order is paid.
func Example() {
	ctx := context.Background()
	svc, _ := newExampleService()
	_, err := svc.CreateTemplate(ctx, coupon.Template{
		Tenant: "shop", ID: "20off",
		Benefit: coupon.Benefit{
			Kind: coupon.KindPercentOff, Currency: money.CNY,
			Percent: decimal.NewFromInt(20), Cap: money.MustParse("500.00", money.CNY),
		},
		Validity: coupon.Validity{Days: 7, TimeZone: "Asia/Shanghai"},
		Limits:   coupon.Limits{Stock: 1000, PerUser: 1},
	})
	if err != nil {
		panic(err)
	}
	c, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: "shop", TemplateID: "20off", UserID: "alice", RequestKey: "req-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.State, "until", c.ValidUntil.In(time.FixedZone("CST", 8*3600)).Format(time.DateTime))

	_, err = svc.Claim(ctx, coupon.ClaimRequest{Tenant: "shop", TemplateID: "20off", UserID: "alice"})
	fmt.Println(errors.Is(err, coupon.ErrUserLimit))

	lock, err := svc.Lock(ctx, coupon.LockRequest{
		Tenant: "shop", CouponID: c.ID, OrderID: "order-1", UserID: "alice",
		Discount: money.MustParse("30.00", money.CNY),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(lock.Coupon.State, lock.Discount)

	_, err = svc.Lock(ctx, coupon.LockRequest{Tenant: "shop", CouponID: c.ID, OrderID: "order-2"})
	fmt.Println(errors.Is(err, coupon.ErrLocked))

	used, err := svc.Use(ctx, coupon.OrderRequest{Tenant: "shop", OrderID: "order-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(used[0].State)
	// Output:
	// ACTIVATED until 2025-08-18 00:00:00
	// true
	// LOCKED 30.00 CNY
	// true
	// USED
}

// Codes for print or SMS: typable, with a check character that tells a
// typo from an unknown code.
func ExampleService_GenerateCodes() {
	ctx := context.Background()
	svc, _ := newExampleService()
	_, err := svc.CreateTemplate(ctx, coupon.Template{
		Tenant: "shop", ID: "gift10",
		Benefit:  coupon.Benefit{Kind: coupon.KindAmountOff, Currency: money.USD, Amount: money.MustParse("10", money.USD)},
		Validity: coupon.Validity{Days: 30},
		Limits:   coupon.Limits{Stock: 500},
	})
	if err != nil {
		panic(err)
	}
	codes, err := svc.GenerateCodes(ctx, coupon.GenerateRequest{Tenant: "shop", TemplateID: "gift10", Count: 100, Length: 8})
	if err != nil {
		panic(err)
	}
	printed := coupon.FormatCode(codes[0]) // e.g. 7XK9-B2T4
	fmt.Println(len(codes), len(printed))

	c, err := svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: "shop", Code: printed, UserID: "bob"})
	if err != nil {
		panic(err)
	}
	fmt.Println(c.State, c.UserID)

	typo := []byte(codes[1])
	typo[0] = coupon.CodeAlphabet[(indexOf(typo[0])+1)%len(coupon.CodeAlphabet)]
	_, err = svc.RedeemCode(ctx, coupon.RedeemRequest{Tenant: "shop", Code: string(typo), UserID: "bob"})
	fmt.Println(errors.Is(err, coupon.ErrBadCheckCharacter))

	st, err := svc.Stats(ctx, "shop", "gift10")
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Issued, st.RemainingStock, st.ByState[coupon.StateUnactivated])
	// Output:
	// 100 9
	// ACTIVATED bob
	// true
	// 100 400 99
}

func indexOf(b byte) int {
	for i := range len(coupon.CodeAlphabet) {
		if coupon.CodeAlphabet[i] == b {
			return i
		}
	}
	return -1
}

// ParseCode accepts what people type: any case, with or without dashes.
func ExampleParseCode() {
	code, err := coupon.ParseCode("ab23-cdn")
	fmt.Println(code, err)
	_, err = coupon.ParseCode("0O1I-L234")
	fmt.Println(errors.Is(err, coupon.ErrMalformedCode))
	// Output:
	// AB23CDN <nil>
	// true
}

// A 50.00 gift card spent over two orders: each order authorizes part of
// the balance (a ledger hold), captures what it charges and voids the
// rest; a refund puts value back on the card.
func ExampleService_AuthorizeGiftCard() {
	ctx := context.Background()
	clock := storage.NewFakeClock(time.Date(2025, 8, 11, 10, 0, 0, 0, time.UTC))
	mem, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		panic(err)
	}
	led, err := ledger.New(ledger.Config{Store: mem.Ledger(), Tx: mem, Clock: clock})
	if err != nil {
		panic(err)
	}
	svc, err := coupon.New(coupon.Config{Store: mem.Coupons(), Tx: mem, Clock: clock, Ledger: led})
	if err != nil {
		panic(err)
	}
	usd := func(s string) money.Amount { return money.MustParse(s, money.USD) }
	if _, err := svc.CreateTemplate(ctx, coupon.Template{
		Tenant: "shop", ID: "gift50",
		Benefit:  coupon.Benefit{Kind: coupon.KindGiftCard, Currency: money.USD, Amount: usd("50.00")},
		Validity: coupon.Validity{Days: 365},
	}); err != nil {
		panic(err)
	}
	card, err := svc.Claim(ctx, coupon.ClaimRequest{Tenant: "shop", TemplateID: "gift50", UserID: "alice"})
	if err != nil {
		panic(err)
	}
	show := func() {
		p, h, a, _ := svc.GiftCardBalance(ctx, "shop", card.ID)
		c, _ := svc.Coupon(ctx, "shop", card.ID)
		fmt.Println(c.State, "posted", p.StringFixed(), "held", h.StringFixed(), "available", a.StringFixed())
	}
	show()

	_, err = svc.AuthorizeGiftCard(ctx, "shop", coupon.GiftCardAuth{CouponID: card.ID, OrderID: "o1", Amount: usd("30.00")})
	if err != nil {
		panic(err)
	}
	_, err = svc.AuthorizeGiftCard(ctx, "shop", coupon.GiftCardAuth{CouponID: card.ID, OrderID: "o2", Amount: usd("30.00")})
	fmt.Println(errors.Is(err, coupon.ErrInsufficientBalance))
	show()

	if _, err := svc.CaptureGiftCard(ctx, "shop", coupon.GiftCardCapture{OrderID: "o1", Amount: usd("25.00"), Destination: "merchant:m1"}); err != nil {
		panic(err)
	}
	if _, err := svc.VoidGiftCard(ctx, "shop", "o1"); err != nil {
		panic(err)
	}
	show()

	if _, err := svc.AuthorizeGiftCard(ctx, "shop", coupon.GiftCardAuth{CouponID: card.ID, OrderID: "o2", Amount: usd("25.00")}); err != nil {
		panic(err)
	}
	if _, err := svc.CaptureGiftCard(ctx, "shop", coupon.GiftCardCapture{OrderID: "o2", Destination: "merchant:m1"}); err != nil {
		panic(err)
	}
	show()

	if _, err := svc.RefundGiftCard(ctx, "shop", coupon.GiftCardRefund{OrderID: "o2", Amount: usd("10.00")}); err != nil {
		panic(err)
	}
	show()
	// Output:
	// ACTIVATED posted 50.00 held 0.00 available 50.00
	// true
	// ACTIVATED posted 50.00 held 30.00 available 20.00
	// ACTIVATED posted 25.00 held 0.00 available 25.00
	// USED posted 0.00 held 0.00 available 0.00
	// ACTIVATED posted 10.00 held 0.00 available 10.00
}
