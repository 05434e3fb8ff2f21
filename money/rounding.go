package money

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// RoundingMode names how a value is rounded to a number of decimals.
type RoundingMode int

// The rounding modes. Every rounding in this package names one of them.
const (
	HalfUp   RoundingMode = iota // to nearest, ties away from zero (2.5 -> 3, -2.5 -> -3)
	HalfEven                     // to nearest, ties to even, "banker's" (2.5 -> 2, 3.5 -> 4)
	Down                         // toward zero, truncation (2.9 -> 2, -2.9 -> -2)
	Up                           // away from zero (2.1 -> 3, -2.1 -> -3)
	Floor                        // toward negative infinity (-2.1 -> -3)
	Ceiling                      // toward positive infinity (2.1 -> 3)
)

// Valid reports whether m is one of the declared modes.
func (m RoundingMode) Valid() bool { return m >= HalfUp && m <= Ceiling }

// String returns the mode's name.
func (m RoundingMode) String() string {
	switch m {
	case HalfUp:
		return "HalfUp"
	case HalfEven:
		return "HalfEven"
	case Down:
		return "Down"
	case Up:
		return "Up"
	case Floor:
		return "Floor"
	case Ceiling:
		return "Ceiling"
	}
	return fmt.Sprintf("RoundingMode(%d)", int(m))
}

// roundDecimal rounds d to scale decimals with mode. An undeclared mode is a
// programming error and panics.
func roundDecimal(d decimal.Decimal, scale int32, mode RoundingMode) decimal.Decimal {
	switch mode {
	case HalfUp:
		return d.Round(scale)
	case HalfEven:
		return d.RoundBank(scale)
	case Down:
		return d.RoundDown(scale)
	case Up:
		return d.RoundUp(scale)
	case Floor:
		return d.RoundFloor(scale)
	case Ceiling:
		return d.RoundCeil(scale)
	}
	panic(fmt.Sprintf("money: undeclared %v", mode))
}

// checkMode panics on an undeclared mode, as roundDecimal does.
func checkMode(mode RoundingMode) {
	if !mode.Valid() {
		panic(fmt.Sprintf("money: undeclared %v", mode))
	}
}
