package rules

import (
	"fmt"
	"math"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/shopspring/decimal"
)

// DecimalType is the CEL type of exact decimal values (money amounts).
// Expressions build decimals with dec("12.30") or dec(12) and compare them
// with the ordinary operators; a decimal never turns into a double.
var decimalType = cel.OpaqueType("decimal")

// decimalRuntimeType is the type decimal values report at run time; its
// traits let the standard operators dispatch to decVal's methods.
var decimalRuntimeType = types.NewObjectType("decimal",
	traits.ComparerType, traits.AdderType, traits.SubtractorType, traits.MultiplierType)

// maxDivScale bounds the scale a CEL expression may ask dec_div for, so that
// an expression cannot request a huge, slow division.
const maxDivScale = 32

// maxDecimalText bounds the length of a decimal literal parsed by dec().
const maxDecimalText = 64

// decVal is the CEL value that carries a decimal.Decimal.
type decVal struct{ d decimal.Decimal }

var (
	_ ref.Val           = decVal{}
	_ traits.Comparer   = decVal{}
	_ traits.Adder      = decVal{}
	_ traits.Subtractor = decVal{}
	_ traits.Multiplier = decVal{}
)

// Compare implements traits.Comparer (the <, <=, >, >= operators).
func (v decVal) Compare(other ref.Val) ref.Val {
	o, ok := other.(decVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return types.Int(cmpDec(v.d, o.d))
}

// Add implements traits.Adder.
func (v decVal) Add(other ref.Val) ref.Val {
	o, ok := other.(decVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return decVal{v.d.Add(o.d)}
}

// Subtract implements traits.Subtractor.
func (v decVal) Subtract(other ref.Val) ref.Val {
	o, ok := other.(decVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return decVal{v.d.Sub(o.d)}
}

// Multiply implements traits.Multiplier.
func (v decVal) Multiply(other ref.Val) ref.Val {
	o, ok := other.(decVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return decVal{v.d.Mul(o.d)}
}

// ConvertToNative implements ref.Val.
func (v decVal) ConvertToNative(typeDesc reflect.Type) (any, error) {
	switch typeDesc {
	case reflect.TypeFor[decimal.Decimal](), reflect.TypeFor[any]():
		return v.d, nil
	case reflect.TypeFor[string]():
		return v.d.String(), nil
	}
	return nil, fmt.Errorf("rules: decimal cannot convert to %v", typeDesc)
}

// ConvertToType implements ref.Val.
func (v decVal) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case decimalType, decimalRuntimeType:
		return v
	case types.StringType:
		return types.String(v.d.String())
	case types.TypeType:
		return decimalRuntimeType
	}
	return types.NewErr("rules: decimal cannot convert to %s", typeVal.TypeName())
}

// Equal implements ref.Val: equal in value, whatever the scale (1.0 == 1.00).
func (v decVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(decVal)
	if !ok {
		return types.False
	}
	return types.Bool(cmpDec(v.d, o.d) == 0)
}

// Type implements ref.Val.
func (v decVal) Type() ref.Type { return decimalRuntimeType }

// Value implements ref.Val.
func (v decVal) Value() any { return v.d }

// cmpDec compares two decimals without allocating when both coefficients
// fit comfortably in an int64, which is the case for every realistic money
// amount; otherwise it falls back to decimal.Cmp.
func cmpDec(a, b decimal.Decimal) int {
	ea, eb := a.Exponent(), b.Exponent()
	if a.NumDigits() <= 18 && b.NumDigits() <= 18 && ea-eb <= 18 && eb-ea <= 18 {
		ca, cb := a.CoefficientInt64(), b.CoefficientInt64()
		// Bring both to the smaller exponent, checking for overflow.
		for ; ea > eb; ea-- {
			if ca > math.MaxInt64/10 || ca < math.MinInt64/10 {
				return a.Cmp(b)
			}
			ca *= 10
		}
		for ; eb > ea; eb-- {
			if cb > math.MaxInt64/10 || cb < math.MinInt64/10 {
				return a.Cmp(b)
			}
			cb *= 10
		}
		switch {
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		}
		return 0
	}
	return a.Cmp(b)
}

func parseDecimal(s string) (decimal.Decimal, error) {
	if len(s) > maxDecimalText {
		return decimal.Decimal{}, fmt.Errorf("decimal literal longer than %d characters", maxDecimalText)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("invalid decimal %q", s)
	}
	return d, nil
}

func decFromString(arg ref.Val) ref.Val {
	s, ok := arg.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(arg)
	}
	d, err := parseDecimal(string(s))
	if err != nil {
		return types.NewErr("dec: %v", err)
	}
	return decVal{d}
}

func decFromInt(arg ref.Val) ref.Val {
	i, ok := arg.(types.Int)
	if !ok {
		return types.MaybeNoSuchOverloadErr(arg)
	}
	return decVal{decimal.NewFromInt(int64(i))}
}

func decArgs(a, b ref.Val) (decimal.Decimal, decimal.Decimal, ref.Val) {
	x, ok := a.(decVal)
	if !ok {
		return decimal.Decimal{}, decimal.Decimal{}, types.MaybeNoSuchOverloadErr(a)
	}
	y, ok := b.(decVal)
	if !ok {
		return decimal.Decimal{}, decimal.Decimal{}, types.MaybeNoSuchOverloadErr(b)
	}
	return x.d, y.d, nil
}

func decArith(op func(x, y decimal.Decimal) decimal.Decimal) func(a, b ref.Val) ref.Val {
	return func(a, b ref.Val) ref.Val {
		x, y, errVal := decArgs(a, b)
		if errVal != nil {
			return errVal
		}
		return decVal{op(x, y)}
	}
}

func decAdd(x, y decimal.Decimal) decimal.Decimal { return x.Add(y) }
func decSub(x, y decimal.Decimal) decimal.Decimal { return x.Sub(y) }
func decMul(x, y decimal.Decimal) decimal.Decimal { return x.Mul(y) }

// decDiv divides with an explicit scale, rounding half away from zero.
// Division by zero is an evaluation error, never a panic.
func decDiv(args ...ref.Val) ref.Val {
	if len(args) != 3 {
		return types.NewErr("dec_div: want 3 arguments")
	}
	x, y, errVal := decArgs(args[0], args[1])
	if errVal != nil {
		return errVal
	}
	scale, ok := args[2].(types.Int)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[2])
	}
	if scale < 0 || scale > maxDivScale {
		return types.NewErr("dec_div: scale %d outside 0..%d", int64(scale), maxDivScale)
	}
	if y.IsZero() {
		return types.NewErr("dec_div: division by zero")
	}
	return decVal{x.DivRound(y, int32(scale))}
}

func decRound(a, b ref.Val) ref.Val {
	x, ok := a.(decVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(a)
	}
	scale, ok := b.(types.Int)
	if !ok {
		return types.MaybeNoSuchOverloadErr(b)
	}
	if scale < 0 || scale > maxDivScale {
		return types.NewErr("dec_round: scale %d outside 0..%d", int64(scale), maxDivScale)
	}
	return decVal{x.d.Round(int32(scale))}
}

func decSum(arg ref.Val) ref.Val {
	list, ok := arg.(interface {
		ref.Val
		Size() ref.Val
		Get(ref.Val) ref.Val
	})
	if !ok {
		return types.MaybeNoSuchOverloadErr(arg)
	}
	n, ok := list.Size().(types.Int)
	if !ok {
		return types.NewErr("dec_sum: list has no size")
	}
	sum := decimal.Zero
	for i := types.Int(0); i < n; i++ {
		v, ok := list.Get(i).(decVal)
		if !ok {
			return types.NewErr("dec_sum: element %d is not a decimal", int64(i))
		}
		sum = sum.Add(v.d)
	}
	return decVal{sum}
}

func decCmpFn(a, b ref.Val) ref.Val {
	x, y, errVal := decArgs(a, b)
	if errVal != nil {
		return errVal
	}
	return types.Int(cmpDec(x, y))
}

func decToString(arg ref.Val) ref.Val {
	x, ok := arg.(decVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(arg)
	}
	return types.String(x.d.String())
}

// decimalLibrary declares the decimal type, its constructors, operators and
// helper functions.
func decimalLibrary() []cel.EnvOption {
	dd := []*cel.Type{decimalType, decimalType}
	// The standard operators dispatch to the value's traits (Comparer,
	// Adder, Subtractor, Multiplier); these declarations let the checker
	// accept decimal operands.
	op := func(name, id string, result *cel.Type) cel.EnvOption {
		return cel.Function(name, cel.Overload(id, dd, result))
	}
	arith := func(name, id string, fn func(x, y decimal.Decimal) decimal.Decimal) cel.EnvOption {
		return cel.Function(name, cel.Overload(id, dd, decimalType, cel.BinaryBinding(decArith(fn))))
	}
	return []cel.EnvOption{
		cel.Function("dec",
			cel.Overload("dec_string", []*cel.Type{cel.StringType}, decimalType, cel.UnaryBinding(decFromString)),
			cel.Overload("dec_int", []*cel.Type{cel.IntType}, decimalType, cel.UnaryBinding(decFromInt)),
		),
		op(operators.Less, "less_decimal", cel.BoolType),
		op(operators.LessEquals, "less_equals_decimal", cel.BoolType),
		op(operators.Greater, "greater_decimal", cel.BoolType),
		op(operators.GreaterEquals, "greater_equals_decimal", cel.BoolType),
		op(operators.Add, "add_decimal", decimalType),
		op(operators.Subtract, "subtract_decimal", decimalType),
		op(operators.Multiply, "multiply_decimal", decimalType),
		arith("dec_add", "dec_add_decimal", decAdd),
		arith("dec_sub", "dec_sub_decimal", decSub),
		arith("dec_mul", "dec_mul_decimal", decMul),
		cel.Function("dec_div", cel.Overload("dec_div_decimal",
			[]*cel.Type{decimalType, decimalType, cel.IntType}, decimalType, cel.FunctionBinding(decDiv))),
		cel.Function("dec_round", cel.Overload("dec_round_decimal",
			[]*cel.Type{decimalType, cel.IntType}, decimalType, cel.BinaryBinding(decRound))),
		cel.Function("dec_cmp", cel.Overload("dec_cmp_decimal", dd, cel.IntType, cel.BinaryBinding(decCmpFn))),
		cel.Function("dec_sum", cel.Overload("dec_sum_list",
			[]*cel.Type{cel.ListType(decimalType)}, decimalType, cel.UnaryBinding(decSum))),
		cel.Function("string", cel.Overload("string_decimal",
			[]*cel.Type{decimalType}, cel.StringType, cel.UnaryBinding(decToString))),
	}
}
