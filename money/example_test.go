package money_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rewardkit/rewardkit/money"
	"github.com/shopspring/decimal"
)

func ExampleAllocate() {
	// A 10.00 USD cart discount spread over three lines in proportion to their prices.
	discount := money.MustParse("10.00", money.USD)
	prices := []decimal.Decimal{
		decimal.RequireFromString("19.99"),
		decimal.RequireFromString("5.01"),
		decimal.RequireFromString("5.00"),
	}
	parts, err := money.Allocate(discount, prices)
	if err != nil {
		panic(err)
	}
	for _, p := range parts {
		fmt.Println(p)
	}
	total, _ := money.Sum(money.USD, parts...)
	fmt.Println("sum:", total)
	// Output:
	// 6.66 USD
	// 1.67 USD
	// 1.67 USD
	// sum: 10.00 USD
}

func ExampleSplit() {
	// Settlement of an order: platform 10%, merchant 85%, agent 5%.
	paid := money.MustParse("99.99", money.USD)
	ratios := []decimal.Decimal{
		decimal.RequireFromString("0.10"),
		decimal.RequireFromString("0.85"),
		decimal.RequireFromString("0.05"),
	}
	parts, err := money.Split(paid, ratios)
	if err != nil {
		panic(err)
	}
	fmt.Println(parts[0], parts[1], parts[2])
	// Output:
	// 10.00 USD 84.99 USD 5.00 USD
}

func ExampleAllocateMinor() {
	// 100 points over three equal weights; the spare point goes to the first.
	parts, err := money.AllocateMinor(100, []int64{1, 1, 1})
	fmt.Println(parts, err)
	// Output:
	// [34 33 33] <nil>
}

func ExampleAllocateMinorInto() {
	// Split 1000 cents of discount over three lines worth 1:1:1, reusing
	// one buffer for every split.
	parts := make([]int64, 3)
	_ = money.AllocateMinorInto(parts, 1000, []int64{1, 1, 1})
	fmt.Println(parts)
	// Output: [334 333 333]
}

func ExampleAmount_Add() {
	a := money.MustParse("12.30", money.USD)
	b := money.MustParse("0.75", money.USD)
	sum, err := a.Add(b)
	fmt.Println(sum, err)

	_, err = a.Add(money.MustParse("1", money.EUR))
	fmt.Println(errors.Is(err, money.ErrCurrencyMismatch), err)
	// Output:
	// 13.05 USD <nil>
	// true money: currency mismatch in add: USD vs EUR
}

func ExampleParse() {
	a, err := money.Parse("12.3", money.USD)
	fmt.Println(a, err)

	_, err = money.Parse("12.345", money.USD)
	fmt.Println(errors.Is(err, money.ErrPrecision))

	_, err = money.Parse("1e2", money.USD)
	fmt.Println(errors.Is(err, money.ErrInvalidAmount))
	// Output:
	// 12.30 USD <nil>
	// true
	// true
}

func ExampleParseLoose() {
	unit, _ := money.ParseLoose("0.0125", money.USD)
	cost := unit.MulRound(decimal.NewFromInt(7), money.HalfEven)
	fmt.Println(unit, cost)
	// Output:
	// 0.0125 USD 0.09 USD
}

func ExampleAmount_MulRound() {
	price := money.MustParse("19.99", money.USD)
	rate := decimal.RequireFromString("0.15")
	fmt.Println(price.Mul(rate))
	fmt.Println(price.MulRound(rate, money.HalfUp))
	fmt.Println(price.MulRound(rate, money.Down))
	// Output:
	// 2.9985 USD
	// 3.00 USD
	// 2.99 USD
}

func ExampleAmount_Minor() {
	units, err := money.MustParse("12.30", money.USD).Minor()
	fmt.Println(units, err)
	fmt.Println(money.FromMinor(units, money.USD))
	// Output:
	// 1230 <nil>
	// 12.30 USD
}

func ExampleAmount_Units() {
	// Units tells the amounts kept as integer minor units, those with
	// exactly the currency's decimals, from those that keep a decimal:
	// Minor converts any exact amount, Units only reports the first kind.
	loose, err := money.ParseLoose("12.305", money.USD) // beyond the scale
	if err != nil {
		panic(err)
	}
	for _, a := range []money.Amount{
		money.MustParse("12.3", money.USD),                      // Parse writes the currency's decimals
		money.New(decimal.RequireFromString("12.3"), money.USD), // one decimal, as given
		loose,
	} {
		units, ok := a.Units()
		minor, err := a.Minor()
		fmt.Println(a.Decimal(), units, ok, minor, err != nil)
	}
	// Output:
	// 12.3 1230 true 1230 false
	// 12.3 0 false 1230 false
	// 12.305 0 false 0 true
}

func ExampleNewRegistry() {
	points := money.MustCurrency("POINTS", 0)
	reg, err := money.NewRegistry(points)
	if err != nil {
		panic(err)
	}
	a, err := reg.ParseAmount("120", "POINTS")
	fmt.Println(a, err)
	_, err = reg.Lookup("MILES")
	fmt.Println(errors.Is(err, money.ErrUnknownCurrency))
	// Output:
	// 120 POINTS <nil>
	// true
}

func ExampleAmount_MarshalJSON() {
	b, _ := json.Marshal(money.MustParse("12.3", money.USD))
	fmt.Println(string(b))
	b, _ = json.Marshal(money.FromMinor(120, money.MustCurrency("POINTS", 0)))
	fmt.Println(string(b))

	var back money.Amount
	err := json.Unmarshal(b, &back)
	fmt.Println(back, err)
	// Output:
	// {"amount":"12.30","currency":"USD"}
	// {"amount":"120","currency":"POINTS","scale":0}
	// 120 POINTS <nil>
}

func ExampleISO() {
	kwd, ok := money.ISO("KWD")
	fmt.Println(kwd, kwd.Scale(), ok)
	// Output:
	// KWD 3 true
}

func ExampleAmount_Round() {
	a := money.New(decimal.RequireFromString("2.345"), money.USD)
	fmt.Println(a.Round(money.HalfUp), a.Round(money.HalfEven), a.Round(money.Floor))
	// Output:
	// 2.35 USD 2.34 USD 2.34 USD
}
