// Package money holds amounts of money and other assets exactly: a decimal value
// (shopspring/decimal, never float64) tagged with a Currency that knows its minor-unit
// scale (USD 2, JPY 0, a host's POINTS 0).
//
// Arithmetic refuses to mix currencies (ErrCurrencyMismatch). Multiplication is exact;
// rounding happens only where the caller asks for it, with a named RoundingMode
// (HalfUp, HalfEven, Down, Up, Floor, Ceiling). Parse reads plain decimal text and
// refuses digits beyond the currency's scale; the JSON form is
// {"amount":"12.30","currency":"USD"} with the amount as a string. Codes resolve from a
// built-in ISO 4217 table or from a Registry that the host builds with its own assets;
// there is no global state.
//
// An amount that holds exactly its currency's decimals, with minor units that fit an
// int64 (every amount built with FromMinor, and nearly every price a shop sees), is kept
// as those minor units: Add, Sub, Cmp, Neg, Minor and the fixed-point text work on the
// integer and allocate nothing. Any other amount keeps its decimal; operations that mix
// the two, overflow int64 or multiply go through decimal arithmetic.
//
// Whenever an amount is split (a cart discount over lines, a settlement over parties)
// use Allocate, Split or, in inner loops, AllocateMinor on integer minor units: they use
// the largest-remainder method, so the parts always sum exactly to the whole, each part
// is within one minor unit of its exact share, and the result is deterministic.
//
// See ExampleAllocate and ExampleSplit.
package money
