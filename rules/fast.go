package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/overloads"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/money"
)

// The fast path. After CEL has parsed and type-checked an expression, the
// checked tree is walked once more; when every node belongs to a small,
// common subset (fact fields, constants, comparisons, `in` over a constant
// list, && || ! ?:, size, map index and presence, string prefix tests,
// exists/all over lines or tags), the expression is turned into a tree of
// typed Go closures over *Facts that computes the same value without boxing
// anything into CEL values. Anything outside the subset leaves the rule on
// its CEL program. CEL stays the source of truth: syntax, types, compile
// errors and every error message come from it, because a closure tree that
// reports an error hands the evaluation back to the CEL program.

// scope carries the comprehension variable of exists/all: a line of
// Facts.Lines or a tag of User.Tags. It is passed by value so that an
// evaluation allocates nothing.
type scope struct {
	line *Line
	tag  string
}

// fn is a compiled node producing a T.
type fn[T any] func(f *Facts, s scope) (T, error)

// kind is the static type of a compiled node.
type kind uint8

const (
	kBool kind = iota + 1
	kInt
	kString
	kDec
	kTime
	kDur
	kTags     // []string (user.tags)
	kLines    // []Line (lines)
	kCounters // map[string]int64 (counters)
	kStrMap   // map[string]string (order.attrs, event.attrs)
	kAnyMap   // map[string]any (attrs)
	kStrs     // a constant list literal of strings, only as the right of `in`
	kInts     // a constant list literal of ints, only as the right of `in`
)

// node is one compiled expression: its kind, its closure (an fn[T] of the
// kind's Go type), and its value when it is a constant.
type node struct {
	k       kind
	f       any
	isConst bool
	c       any
	// amount reads the money.Amount behind a kDec fact (order.amount,
	// line.unit_price, line.amount), so that a comparison with a constant
	// can work on its minor units instead of building a decimal.
	amount fn[money.Amount]
}

// errFastUnsupported reports a node outside the fast subset. It never
// leaves the package: the rule simply keeps its CEL program.
var errFastUnsupported = errors.New("rules: not in the fast subset")

// fastUses records which guarded variables an expression reads: CEL turns
// user and lines into an error when a list is over the limit, and the fast
// path leaves those evaluations to CEL.
type fastUses struct{ user, lines bool }

// fastCompiler walks one checked AST.
type fastCompiler struct {
	a    *celast.AST
	iter string // the comprehension variable in scope ("" outside)
	elem kind   // its kind: kString (a tag) or 0 for a line
	uses fastUses
}

// compileFast returns the closure tree of a checked boolean expression, or
// errFastUnsupported.
func compileFast(a *cel.Ast) (fn[bool], fastUses, error) {
	native := a.NativeRep()
	if native == nil || !native.IsChecked() {
		return nil, fastUses{}, errFastUnsupported
	}
	c := &fastCompiler{a: native}
	n, err := c.build(native.Expr())
	if err != nil {
		return nil, fastUses{}, err
	}
	if n.k != kBool {
		return nil, fastUses{}, errFastUnsupported
	}
	return n.f.(fn[bool]), c.uses, nil
}

func constNode[T any](k kind, v T) node {
	return node{k: k, isConst: true, c: v, f: fn[T](func(*Facts, scope) (T, error) { return v, nil })}
}

func (c *fastCompiler) build(e celast.Expr) (node, error) {
	switch e.Kind() {
	case celast.LiteralKind:
		switch v := e.AsLiteral().(type) {
		case types.Bool:
			return constNode(kBool, bool(v)), nil
		case types.Int:
			return constNode(kInt, int64(v)), nil
		case types.String:
			return constNode(kString, string(v)), nil
		}
	case celast.IdentKind:
		return c.ident(e)
	case celast.SelectKind:
		return c.selectField(e)
	case celast.CallKind:
		return c.call(e)
	case celast.ComprehensionKind:
		return c.comprehension(e)
	case celast.ListKind:
		return constList(e.AsList())
	}
	return node{}, errFastUnsupported
}

func (c *fastCompiler) ident(e celast.Expr) (node, error) {
	name := e.AsIdent()
	if c.iter != "" && name == c.iter {
		if c.elem == kString {
			return node{k: kString, f: fn[string](func(_ *Facts, s scope) (string, error) { return s.tag, nil })}, nil
		}
		return node{}, errFastUnsupported // a line itself is only read through its fields
	}
	if ref, ok := c.a.ReferenceMap()[e.ID()]; ok && ref.Name != "" {
		if ref.Value != nil {
			return node{}, errFastUnsupported
		}
		name = ref.Name
	}
	switch name {
	case "now":
		return node{k: kTime, f: fn[time.Time](func(f *Facts, _ scope) (time.Time, error) { return f.Now, nil })}, nil
	case "lines":
		c.uses.lines = true
		return node{k: kLines, f: fn[[]Line](func(f *Facts, _ scope) ([]Line, error) { return f.Lines, nil })}, nil
	case "counters":
		return node{k: kCounters, f: fn[map[string]int64](func(f *Facts, _ scope) (map[string]int64, error) { return f.Counters, nil })}, nil
	case "attrs":
		return node{k: kAnyMap, f: fn[map[string]any](func(f *Facts, _ scope) (map[string]any, error) { return f.Attrs, nil })}, nil
	}
	return node{}, errFastUnsupported
}

// structVar names the fact struct a select operand refers to: "order",
// "user", "event", "merchant", or "line" for the comprehension variable.
func (c *fastCompiler) structVar(e celast.Expr) (string, bool) {
	if e.Kind() != celast.IdentKind {
		return "", false
	}
	name := e.AsIdent()
	if c.iter != "" && name == c.iter {
		return "line", c.elem != kString
	}
	if ref, ok := c.a.ReferenceMap()[e.ID()]; ok && ref.Name != "" {
		if ref.Value != nil {
			return "", false
		}
		name = ref.Name
	}
	switch name {
	case "order", "event", "merchant":
		return name, true
	case "user":
		c.uses.user = true
		return name, true
	}
	return "", false
}

func (c *fastCompiler) selectField(e celast.Expr) (node, error) {
	sel := e.AsSelect()
	if v, ok := c.structVar(sel.Operand()); ok {
		if sel.IsTestOnly() {
			return presence(v, sel.FieldName())
		}
		return structField(v, sel.FieldName())
	}
	// m.key on a map is m["key"]; has(m.key) tests the key.
	m, err := c.build(sel.Operand())
	if err != nil {
		return node{}, err
	}
	key := constNode(kString, sel.FieldName())
	if sel.IsTestOnly() {
		return mapContains(m, key)
	}
	return mapIndex(m, key)
}

func strGetter(get func(*Facts) string) node {
	return node{k: kString, f: fn[string](func(f *Facts, _ scope) (string, error) { return get(f), nil })}
}

func boolGetter(get func(*Facts) bool) node {
	return node{k: kBool, f: fn[bool](func(f *Facts, _ scope) (bool, error) { return get(f), nil })}
}

func timeGetter(get func(*Facts) time.Time) node {
	return node{k: kTime, f: fn[time.Time](func(f *Facts, _ scope) (time.Time, error) { return get(f), nil })}
}

func strMapGetter(get func(*Facts) map[string]string) node {
	return node{k: kStrMap, f: fn[map[string]string](func(f *Facts, _ scope) (map[string]string, error) { return get(f), nil })}
}

func lineStr(get func(*Line) string) node {
	return node{k: kString, f: fn[string](func(_ *Facts, s scope) (string, error) { return get(s.line), nil })}
}

// amountNode is a kDec fact read from a money.Amount.
func amountNode(get func(*Facts, scope) money.Amount) node {
	return node{k: kDec,
		f:      fn[decimal.Decimal](func(f *Facts, s scope) (decimal.Decimal, error) { return get(f, s).Decimal(), nil }),
		amount: fn[money.Amount](func(f *Facts, s scope) (money.Amount, error) { return get(f, s), nil })}
}

// structField returns the typed reader of one declared fact field. It
// mirrors the descriptors in celtypes.go; fast_internal_test checks both
// agree on every field.
func structField(v, name string) (node, error) {
	switch v + "." + name {
	case "order.id":
		return strGetter(func(f *Facts) string { return f.Order.ID }), nil
	case "order.amount":
		return amountNode(func(f *Facts, _ scope) money.Amount { return f.Order.Amount }), nil
	case "order.currency":
		return strGetter(func(f *Facts) string { return f.Order.Amount.Currency().Code() }), nil
	case "order.status":
		return strGetter(func(f *Facts) string { return f.Order.Status }), nil
	case "order.channel":
		return strGetter(func(f *Facts) string { return f.Order.Channel }), nil
	case "order.region":
		return strGetter(func(f *Facts) string { return f.Order.Region }), nil
	case "order.shop_id":
		return strGetter(func(f *Facts) string { return f.Order.ShopID }), nil
	case "order.first_order":
		return boolGetter(func(f *Facts) bool { return f.Order.FirstOrder }), nil
	case "order.refunded":
		return boolGetter(func(f *Facts) bool { return f.Order.Refunded }), nil
	case "order.created_at":
		return timeGetter(func(f *Facts) time.Time { return f.Order.CreatedAt }), nil
	case "order.attrs":
		return strMapGetter(func(f *Facts) map[string]string { return f.Order.Attrs }), nil

	case "line.sku":
		return lineStr(func(l *Line) string { return l.SKU }), nil
	case "line.category":
		return lineStr(func(l *Line) string { return l.Category }), nil
	case "line.quantity":
		return node{k: kInt, f: fn[int64](func(_ *Facts, s scope) (int64, error) { return s.line.Quantity, nil })}, nil
	case "line.unit_price":
		return amountNode(func(_ *Facts, s scope) money.Amount { return s.line.UnitPrice }), nil
	case "line.amount":
		return amountNode(func(_ *Facts, s scope) money.Amount { return s.line.Amount }), nil

	case "user.id":
		return strGetter(func(f *Facts) string { return f.User.ID }), nil
	case "user.type":
		return strGetter(func(f *Facts) string { return f.User.Type }), nil
	case "user.tier":
		return strGetter(func(f *Facts) string { return f.User.Tier }), nil
	case "user.region":
		return strGetter(func(f *Facts) string { return f.User.Region }), nil
	case "user.device_id":
		return strGetter(func(f *Facts) string { return f.User.DeviceID }), nil
	case "user.phone":
		return strGetter(func(f *Facts) string { return f.User.Phone }), nil
	case "user.is_new":
		return boolGetter(func(f *Facts) bool { return f.User.IsNew }), nil
	case "user.deny_listed":
		return boolGetter(func(f *Facts) bool { return f.User.DenyListed }), nil
	case "user.attended":
		return boolGetter(func(f *Facts) bool { return f.User.Attended }), nil
	case "user.registered_at":
		return timeGetter(func(f *Facts) time.Time { return f.User.RegisteredAt }), nil
	case "user.tags":
		return node{k: kTags, f: fn[[]string](func(f *Facts, _ scope) ([]string, error) { return f.User.Tags, nil })}, nil

	case "event.id":
		return strGetter(func(f *Facts) string { return f.Event.ID }), nil
	case "event.type":
		return strGetter(func(f *Facts) string { return f.Event.Type }), nil
	case "event.time":
		return timeGetter(func(f *Facts) time.Time { return f.Event.Time }), nil
	case "event.attrs":
		return strMapGetter(func(f *Facts) map[string]string { return f.Event.Attrs }), nil

	case "merchant.id":
		return strGetter(func(f *Facts) string { return f.Merchant.ID }), nil
	case "merchant.shop_id":
		return strGetter(func(f *Facts) string { return f.Merchant.ShopID }), nil
	case "merchant.region":
		return strGetter(func(f *Facts) string { return f.Merchant.Region }), nil
	case "merchant.category":
		return strGetter(func(f *Facts) string { return f.Merchant.Category }), nil
	}
	return node{}, errFastUnsupported
}

// presence is has(v.name) on a fact struct, using the descriptor's own
// presence test so that both paths share one definition.
func presence(v, name string) (node, error) {
	var (
		desc *structDesc
		ptr  func(f *Facts, s scope) any
	)
	switch v {
	case "order":
		desc, ptr = orderDesc, func(f *Facts, _ scope) any { return &f.Order }
	case "user":
		desc, ptr = userDesc, func(f *Facts, _ scope) any { return &f.User }
	case "event":
		desc, ptr = eventDesc, func(f *Facts, _ scope) any { return &f.Event }
	case "merchant":
		desc, ptr = merchantDesc, func(f *Facts, _ scope) any { return &f.Merchant }
	case "line":
		desc, ptr = lineDesc, func(_ *Facts, s scope) any { return s.line }
	default:
		return node{}, errFastUnsupported
	}
	ft, ok := desc.fields[name]
	if !ok {
		return node{}, errFastUnsupported
	}
	isSet := ft.IsSet
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) { return isSet(ptr(f, s)), nil })}, nil
}

// errNoSuchKey is the fast path's missing-key error; the caller re-runs CEL
// for the message.
func errNoSuchKey(k string) error { return fmt.Errorf("no such key: %s", k) }

func mapIndex(m, key node) (node, error) {
	if key.k != kString {
		return node{}, errFastUnsupported
	}
	kf := key.f.(fn[string])
	switch m.k {
	case kCounters:
		mf := m.f.(fn[map[string]int64])
		return node{k: kInt, f: fn[int64](func(f *Facts, s scope) (int64, error) {
			mv, err := mf(f, s)
			if err != nil {
				return 0, err
			}
			k, err := kf(f, s)
			if err != nil {
				return 0, err
			}
			v, ok := mv[k]
			if !ok {
				return 0, errNoSuchKey(k)
			}
			return v, nil
		})}, nil
	case kStrMap:
		mf := m.f.(fn[map[string]string])
		return node{k: kString, f: fn[string](func(f *Facts, s scope) (string, error) {
			mv, err := mf(f, s)
			if err != nil {
				return "", err
			}
			k, err := kf(f, s)
			if err != nil {
				return "", err
			}
			v, ok := mv[k]
			if !ok {
				return "", errNoSuchKey(k)
			}
			return v, nil
		})}, nil
	}
	return node{}, errFastUnsupported
}

func mapContains(m, key node) (node, error) {
	if key.k != kString {
		return node{}, errFastUnsupported
	}
	kf := key.f.(fn[string])
	switch m.k {
	case kCounters:
		return containsKey(m.f.(fn[map[string]int64]), kf), nil
	case kStrMap:
		return containsKey(m.f.(fn[map[string]string]), kf), nil
	case kAnyMap:
		return containsKey(m.f.(fn[map[string]any]), kf), nil
	}
	return node{}, errFastUnsupported
}

func containsKey[V any](mf fn[map[string]V], kf fn[string]) node {
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
		k, err := kf(f, s)
		if err != nil {
			return false, err
		}
		mv, err := mf(f, s)
		if err != nil {
			return false, err
		}
		_, ok := mv[k]
		return ok, nil
	})}
}

// call compiles a function or operator call, keyed by the overload the
// checker resolved.
func (c *fastCompiler) call(e celast.Expr) (node, error) {
	call := e.AsCall()
	ids := c.a.GetOverloadIDs(e.ID())
	fname := call.FunctionName()
	args := call.Args()
	switch fname {
	case operators.LogicalAnd, operators.LogicalOr:
		if len(args) != 2 {
			return node{}, errFastUnsupported
		}
		return c.logical(fname == operators.LogicalAnd, args[0], args[1])
	case operators.LogicalNot:
		if len(args) != 1 {
			return node{}, errFastUnsupported
		}
		x, err := c.boolArg(args[0])
		if err != nil {
			return node{}, err
		}
		return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
			v, err := x(f, s)
			return !v, err
		})}, nil
	case operators.Conditional:
		if len(args) != 3 {
			return node{}, errFastUnsupported
		}
		return c.conditional(args[0], args[1], args[2])
	}
	if len(ids) != 1 {
		return node{}, errFastUnsupported
	}
	id := ids[0]
	var target []celast.Expr
	if call.IsMemberFunction() {
		target = []celast.Expr{call.Target()}
	}
	operands := make([]node, 0, len(args)+1)
	for _, a := range append(target, args...) {
		n, err := c.build(a)
		if err != nil {
			return node{}, err
		}
		operands = append(operands, n)
	}
	switch fname {
	case operators.Equals, operators.NotEquals:
		if id != overloads.Equals && id != overloads.NotEquals {
			return node{}, errFastUnsupported
		}
		return equality(fname == operators.NotEquals, operands[0], operands[1])
	case operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		return ordering(fname, id, operands[0], operands[1])
	case operators.In:
		return in(id, operands[0], operands[1])
	case operators.Index:
		if id != overloads.IndexMap {
			return node{}, errFastUnsupported
		}
		return mapIndex(operands[0], operands[1])
	}
	switch id {
	case overloads.SizeString, overloads.SizeStringInst:
		return sizeOf(operands[0], func(s string) int64 { return int64(utf8.RuneCountInString(s)) })
	case overloads.SizeList, overloads.SizeListInst, overloads.SizeMap, overloads.SizeMapInst:
		return sizeOfCollection(operands[0])
	case overloads.StartsWithString:
		return stringTest(operands, strings.HasPrefix)
	case overloads.EndsWithString:
		return stringTest(operands, strings.HasSuffix)
	case overloads.ContainsString:
		return stringTest(operands, strings.Contains)
	case "dec_string":
		if operands[0].isConst && operands[0].k == kString {
			d, err := parseDecimal(operands[0].c.(string))
			if err != nil {
				return node{}, errFastUnsupported
			}
			return constNode(kDec, d), nil
		}
	case "dec_int":
		if operands[0].isConst && operands[0].k == kInt {
			return constNode(kDec, decimal.NewFromInt(operands[0].c.(int64))), nil
		}
	case overloads.StringToTimestamp:
		if operands[0].isConst && operands[0].k == kString {
			if ts, ok := types.String(operands[0].c.(string)).ConvertToType(types.TimestampType).(types.Timestamp); ok {
				return constNode(kTime, ts.Time), nil
			}
		}
	case overloads.StringToDuration:
		if operands[0].isConst && operands[0].k == kString {
			if d, ok := types.String(operands[0].c.(string)).ConvertToType(types.DurationType).(types.Duration); ok {
				return constNode(kDur, d.Duration), nil
			}
		}
	case overloads.SubtractTimestampDuration, overloads.AddTimestampDuration,
		overloads.AddDurationTimestamp, overloads.SubtractTimestampTimestamp:
		return timeArith(id, operands[0], operands[1])
	}
	return node{}, errFastUnsupported
}

func (c *fastCompiler) boolArg(e celast.Expr) (fn[bool], error) {
	n, err := c.build(e)
	if err != nil {
		return nil, err
	}
	if n.k != kBool {
		return nil, errFastUnsupported
	}
	return n.f.(fn[bool]), nil
}

// logical is CEL's commutative && and ||: a side that decides the result
// (false for &&, true for ||) wins even when the other side is an error;
// otherwise an error on either side is the result.
func (c *fastCompiler) logical(and bool, l, r celast.Expr) (node, error) {
	a, err := c.boolArg(l)
	if err != nil {
		return node{}, err
	}
	b, err := c.boolArg(r)
	if err != nil {
		return node{}, err
	}
	if and {
		return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
			x, errA := a(f, s)
			if errA == nil && !x {
				return false, nil
			}
			y, errB := b(f, s)
			switch {
			case errB == nil && !y:
				return false, nil
			case errA != nil:
				return false, errA
			}
			return y, errB
		})}, nil
	}
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
		x, errA := a(f, s)
		if errA == nil && x {
			return true, nil
		}
		y, errB := b(f, s)
		switch {
		case errB == nil && y:
			return true, nil
		case errA != nil:
			return false, errA
		}
		return y, errB
	})}, nil
}

func (c *fastCompiler) conditional(condE, thenE, elseE celast.Expr) (node, error) {
	cond, err := c.boolArg(condE)
	if err != nil {
		return node{}, err
	}
	t, err := c.build(thenE)
	if err != nil {
		return node{}, err
	}
	e, err := c.build(elseE)
	if err != nil {
		return node{}, err
	}
	if t.k != e.k {
		return node{}, errFastUnsupported
	}
	switch t.k {
	case kBool:
		return choose(t.k, cond, t.f.(fn[bool]), e.f.(fn[bool])), nil
	case kInt:
		return choose(t.k, cond, t.f.(fn[int64]), e.f.(fn[int64])), nil
	case kString:
		return choose(t.k, cond, t.f.(fn[string]), e.f.(fn[string])), nil
	case kDec:
		return choose(t.k, cond, t.f.(fn[decimal.Decimal]), e.f.(fn[decimal.Decimal])), nil
	case kTime:
		return choose(t.k, cond, t.f.(fn[time.Time]), e.f.(fn[time.Time])), nil
	case kDur:
		return choose(t.k, cond, t.f.(fn[time.Duration]), e.f.(fn[time.Duration])), nil
	}
	return node{}, errFastUnsupported
}

func choose[T any](k kind, cond fn[bool], a, b fn[T]) node {
	return node{k: k, f: fn[T](func(f *Facts, s scope) (T, error) {
		c, err := cond(f, s)
		if err != nil {
			var zero T
			return zero, err
		}
		if c {
			return a(f, s)
		}
		return b(f, s)
	})}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func cmpInt[T int64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpTime(a, b time.Time) int {
	switch {
	case a.Before(b):
		return -1
	case a.After(b):
		return 1
	}
	return 0
}

func ordering(op, overload string, a, b node) (node, error) {
	prefix := map[string]string{
		operators.Less: "less_", operators.LessEquals: "less_equals_",
		operators.Greater: "greater_", operators.GreaterEquals: "greater_equals_",
	}[op]
	k, ok := map[string]kind{
		prefix + "int64": kInt, prefix + "string": kString, prefix + "bool": kBool,
		prefix + "timestamp": kTime, prefix + "duration": kDur, prefix + "decimal": kDec,
	}[overload]
	if !ok || a.k != k || b.k != k {
		return node{}, errFastUnsupported
	}
	var test func(int) bool
	switch op {
	case operators.Less:
		test = func(c int) bool { return c < 0 }
	case operators.LessEquals:
		test = func(c int) bool { return c <= 0 }
	case operators.Greater:
		test = func(c int) bool { return c > 0 }
	default:
		test = func(c int) bool { return c >= 0 }
	}
	switch k {
	case kInt:
		return compare(a, b, cmpInt[int64], test), nil
	case kString:
		return compare(a, b, strings.Compare, test), nil
	case kBool:
		return compare(a, b, cmpBool, test), nil
	case kTime:
		return compare(a, b, cmpTime, test), nil
	case kDur:
		return compare(a, b, cmpInt[time.Duration], test), nil
	case kDec:
		return compareDec(a, b, test), nil
	}
	return node{}, errFastUnsupported
}

// compare evaluates both operands, left first (an error on the left is the
// result, as in CEL), and tests cmp(a, b).
func compare[T any](a, b node, cmp func(T, T) int, test func(int) bool) node {
	x := a.f.(fn[T])
	if b.isConst {
		c := b.c.(T)
		return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
			v, err := x(f, s)
			if err != nil {
				return false, err
			}
			return test(cmp(v, c)), nil
		})}
	}
	y := b.f.(fn[T])
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
		v, err := x(f, s)
		if err != nil {
			return false, err
		}
		w, err := y(f, s)
		if err != nil {
			return false, err
		}
		return test(cmp(v, w)), nil
	})}
}

// compareDec compares two kDec nodes. An amount fact against a constant
// compares the amount's minor units with the constant brought to the
// amount's scale once per scale at compile time (minorBound), so that
// the common rule (order.amount >= 100) builds no decimal; any other pair,
// or an amount kept as a decimal, goes through cmpDec.
func compareDec(a, b node, test func(int) bool) node {
	switch {
	case a.amount != nil && b.isConst:
		return amountVsConst(a.amount, b.c.(decimal.Decimal), test)
	case b.amount != nil && a.isConst:
		return amountVsConst(b.amount, a.c.(decimal.Decimal), func(c int) bool { return test(-c) })
	}
	return compare(a, b, cmpDec, test)
}

func amountVsConst(get fn[money.Amount], c decimal.Decimal, test func(int) bool) node {
	var bounds [money.MaxScale + 1]minorBound
	for scale := range bounds {
		bounds[scale] = boundAt(c, int32(scale))
	}
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
		a, err := get(f, s)
		if err != nil {
			return false, err
		}
		if units, ok := a.Units(); ok {
			return test(bounds[a.Currency().Scale()].cmp(units)), nil
		}
		return test(cmpDec(a.Decimal(), c)), nil
	})}
}

// minorBound is a decimal constant in the minor units of one scale: v is
// the whole units at or below it, exact whether it is a whole number of
// them, and out, when not 0, that it lies below (-1) or above (+1) every
// int64.
type minorBound struct {
	v     int64
	exact bool
	out   int
}

func boundAt(c decimal.Decimal, scale int32) minorBound {
	shifted := c.Shift(scale)
	floor := shifted.Floor()
	if bi := floor.BigInt(); !bi.IsInt64() {
		return minorBound{out: floor.Sign()}
	}
	return minorBound{v: floor.IntPart(), exact: shifted.Equal(floor)}
}

// cmp compares units minor units with the constant: -1, 0 or +1.
func (m minorBound) cmp(units int64) int {
	switch {
	case m.out != 0:
		return -m.out
	case units < m.v:
		return -1
	case units > m.v:
		return 1
	case m.exact:
		return 0
	}
	return -1 // units is the floor of a constant with a fraction of a unit more
}

func equality(negate bool, a, b node) (node, error) {
	if a.k != b.k {
		return node{}, errFastUnsupported
	}
	test := func(c int) bool { return c == 0 }
	if negate {
		test = func(c int) bool { return c != 0 }
	}
	switch a.k {
	case kString:
		return equal[string](a, b, negate), nil
	case kInt:
		return equal[int64](a, b, negate), nil
	case kBool:
		return equal[bool](a, b, negate), nil
	case kDur:
		return equal[time.Duration](a, b, negate), nil
	case kDec:
		return compareDec(a, b, test), nil
	case kTime:
		return compare(a, b, func(x, y time.Time) int {
			if x.Equal(y) {
				return 0
			}
			return 1
		}, test), nil
	}
	return node{}, errFastUnsupported
}

func equal[T comparable](a, b node, negate bool) node {
	x := a.f.(fn[T])
	if b.isConst {
		c := b.c.(T)
		return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
			v, err := x(f, s)
			return (v == c) != negate, err
		})}
	}
	y := b.f.(fn[T])
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
		v, err := x(f, s)
		if err != nil {
			return false, err
		}
		w, err := y(f, s)
		return (v == w) != negate, err
	})}
}

// in compiles `x in list` for a constant list literal or user.tags, and
// `key in map` for the fact maps.
func in(overload string, x, coll node) (node, error) {
	switch overload {
	case overloads.InMap:
		return mapContains(coll, x)
	case overloads.InList:
	default:
		return node{}, errFastUnsupported
	}
	switch {
	case coll.k == kTags && x.k == kString:
		xf, lf := x.f.(fn[string]), coll.f.(fn[[]string])
		return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
			v, err := xf(f, s)
			if err != nil {
				return false, err
			}
			l, err := lf(f, s)
			return slices.Contains(l, v), err
		})}, nil
	case coll.k == kStrs && x.k == kString:
		return memberOf(x, coll.c.([]string)), nil
	case coll.k == kInts && x.k == kInt:
		return memberOf(x, coll.c.([]int64)), nil
	}
	return node{}, errFastUnsupported
}

// memberOf tests x against a constant list: a linear scan for a short
// list, a set for a long one.
func memberOf[T comparable](x node, list []T) node {
	xf := x.f.(fn[T])
	if len(list) <= 8 {
		return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
			v, err := xf(f, s)
			if err != nil {
				return false, err
			}
			for _, c := range list {
				if v == c {
					return true, nil
				}
			}
			return false, nil
		})}
	}
	set := make(map[T]struct{}, len(list))
	for _, c := range list {
		set[c] = struct{}{}
	}
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
		v, err := xf(f, s)
		if err != nil {
			return false, err
		}
		_, ok := set[v]
		return ok, nil
	})}
}

func sizeOf(n node, size func(string) int64) (node, error) {
	if n.k != kString {
		return node{}, errFastUnsupported
	}
	sf := n.f.(fn[string])
	return node{k: kInt, f: fn[int64](func(f *Facts, s scope) (int64, error) {
		v, err := sf(f, s)
		return size(v), err
	})}, nil
}

func lenOf[T any](get fn[T], size func(T) int) node {
	return node{k: kInt, f: fn[int64](func(f *Facts, s scope) (int64, error) {
		v, err := get(f, s)
		return int64(size(v)), err
	})}
}

func sizeOfCollection(n node) (node, error) {
	switch n.k {
	case kTags:
		return lenOf(n.f.(fn[[]string]), func(v []string) int { return len(v) }), nil
	case kLines:
		return lenOf(n.f.(fn[[]Line]), func(v []Line) int { return len(v) }), nil
	case kCounters:
		return lenOf(n.f.(fn[map[string]int64]), func(v map[string]int64) int { return len(v) }), nil
	case kStrMap:
		return lenOf(n.f.(fn[map[string]string]), func(v map[string]string) int { return len(v) }), nil
	case kAnyMap:
		return lenOf(n.f.(fn[map[string]any]), func(v map[string]any) int { return len(v) }), nil
	}
	return node{}, errFastUnsupported
}

func stringTest(operands []node, test func(s, x string) bool) (node, error) {
	if len(operands) != 2 || operands[0].k != kString || operands[1].k != kString {
		return node{}, errFastUnsupported
	}
	a, b := operands[0].f.(fn[string]), operands[1].f.(fn[string])
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
		x, err := a(f, s)
		if err != nil {
			return false, err
		}
		y, err := b(f, s)
		if err != nil {
			return false, err
		}
		return test(x, y), nil
	})}, nil
}

// timeArith does timestamp and duration arithmetic through CEL's own
// checked operations, so that overflow is an error exactly when CEL says so.
func timeArith(overload string, a, b node) (node, error) {
	val := func(n node) (func(*Facts, scope) (ref.Val, error), bool) {
		switch n.k {
		case kTime:
			g := n.f.(fn[time.Time])
			return func(f *Facts, s scope) (ref.Val, error) {
				t, err := g(f, s)
				return types.Timestamp{Time: t}, err
			}, true
		case kDur:
			g := n.f.(fn[time.Duration])
			return func(f *Facts, s scope) (ref.Val, error) {
				d, err := g(f, s)
				return types.Duration{Duration: d}, err
			}, true
		}
		return nil, false
	}
	x, ok1 := val(a)
	y, ok2 := val(b)
	if !ok1 || !ok2 {
		return node{}, errFastUnsupported
	}
	op := func(f *Facts, s scope) (ref.Val, error) {
		l, err := x(f, s)
		if err != nil {
			return nil, err
		}
		r, err := y(f, s)
		if err != nil {
			return nil, err
		}
		var out ref.Val
		switch overload {
		case overloads.SubtractTimestampDuration, overloads.SubtractTimestampTimestamp:
			out = l.(types.Timestamp).Subtract(r)
		case overloads.AddTimestampDuration:
			out = l.(types.Timestamp).Add(r)
		default:
			out = l.(types.Duration).Add(r)
		}
		if e, isErr := out.(*types.Err); isErr {
			return nil, e
		}
		return out, nil
	}
	if overload == overloads.SubtractTimestampTimestamp {
		return node{k: kDur, f: fn[time.Duration](func(f *Facts, s scope) (time.Duration, error) {
			v, err := op(f, s)
			if err != nil {
				return 0, err
			}
			d, ok := v.(types.Duration)
			if !ok {
				return 0, fmt.Errorf("unexpected %T", v)
			}
			return d.Duration, nil
		})}, nil
	}
	return node{k: kTime, f: fn[time.Time](func(f *Facts, s scope) (time.Time, error) {
		v, err := op(f, s)
		if err != nil {
			return time.Time{}, err
		}
		t, ok := v.(types.Timestamp)
		if !ok {
			return time.Time{}, fmt.Errorf("unexpected %T", v)
		}
		return t.Time, nil
	})}, nil
}

// constList folds a list literal of string or int literals, the right-hand
// side of `x in [...]`.
func constList(l celast.ListExpr) (node, error) {
	if len(l.OptionalIndices()) > 0 || l.Size() == 0 {
		return node{}, errFastUnsupported
	}
	var (
		strs []string
		ints []int64
	)
	for _, el := range l.Elements() {
		if el.Kind() != celast.LiteralKind {
			return node{}, errFastUnsupported
		}
		switch v := el.AsLiteral().(type) {
		case types.String:
			strs = append(strs, string(v))
		case types.Int:
			ints = append(ints, int64(v))
		default:
			return node{}, errFastUnsupported
		}
	}
	switch {
	case len(strs) == l.Size():
		return node{k: kStrs, isConst: true, c: strs}, nil
	case len(ints) == l.Size():
		return node{k: kInts, isConst: true, c: ints}, nil
	}
	return node{}, errFastUnsupported
}

// isAccu reports whether e is the accumulator identifier.
func isAccu(e celast.Expr, accu string) bool {
	return e.Kind() == celast.IdentKind && e.AsIdent() == accu
}

// callOf returns the call's arguments when e calls fn.
func callOf(e celast.Expr, fn string, n int) ([]celast.Expr, bool) {
	if e.Kind() != celast.CallKind {
		return nil, false
	}
	call := e.AsCall()
	if call.FunctionName() != fn || call.IsMemberFunction() || len(call.Args()) != n {
		return nil, false
	}
	return call.Args(), true
}

// comprehension compiles the exists and all macros over lines or user.tags
// (recognised by the exact shape the CEL parser expands them to), one level
// deep. Their CEL semantics: exists is true when some element is true, else
// an error when some element errored, else false; all mirrors it.
func (c *fastCompiler) comprehension(e celast.Expr) (node, error) {
	comp := e.AsComprehension()
	if c.iter != "" || comp.HasIterVar2() || comp.IterVar() == "" {
		return node{}, errFastUnsupported
	}
	accu := comp.AccuVar()
	init := comp.AccuInit()
	if init.Kind() != celast.LiteralKind || !isAccu(comp.Result(), accu) {
		return node{}, errFastUnsupported
	}
	initVal, ok := init.AsLiteral().(types.Bool)
	if !ok {
		return node{}, errFastUnsupported
	}
	exists := initVal == types.False
	cond, ok := callOf(comp.LoopCondition(), operators.NotStrictlyFalse, 1)
	if !ok {
		return node{}, errFastUnsupported
	}
	stepOp := operators.LogicalAnd
	if exists {
		stepOp = operators.LogicalOr
		notAccu, ok := callOf(cond[0], operators.LogicalNot, 1)
		if !ok || !isAccu(notAccu[0], accu) {
			return node{}, errFastUnsupported
		}
	} else if !isAccu(cond[0], accu) {
		return node{}, errFastUnsupported
	}
	step, ok := callOf(comp.LoopStep(), stepOp, 2)
	if !ok || !isAccu(step[0], accu) {
		return node{}, errFastUnsupported
	}
	rng, err := c.build(comp.IterRange())
	if err != nil {
		return node{}, err
	}
	switch rng.k {
	case kLines:
		c.iter, c.elem = comp.IterVar(), 0
	case kTags:
		c.iter, c.elem = comp.IterVar(), kString
	default:
		return node{}, errFastUnsupported
	}
	pred, err := c.boolArg(step[1])
	c.iter, c.elem = "", 0
	if err != nil {
		return node{}, err
	}
	// The element that ends the loop: true for exists, false for all.
	decisive := exists
	if rng.k == kLines {
		lf := rng.f.(fn[[]Line])
		return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
			lines, err := lf(f, s)
			if err != nil {
				return false, err
			}
			var first error
			for i := range lines {
				v, err := pred(f, scope{line: &lines[i]})
				switch {
				case err != nil:
					if first == nil {
						first = err
					}
				case v == decisive:
					return decisive, nil
				}
			}
			if first != nil {
				return false, first
			}
			return !decisive, nil
		})}, nil
	}
	tf := rng.f.(fn[[]string])
	return node{k: kBool, f: fn[bool](func(f *Facts, s scope) (bool, error) {
		tags, err := tf(f, s)
		if err != nil {
			return false, err
		}
		var first error
		for _, t := range tags {
			v, err := pred(f, scope{tag: t})
			switch {
			case err != nil:
				if first == nil {
					first = err
				}
			case v == decisive:
				return decisive, nil
			}
		}
		if first != nil {
			return false, first
		}
		return !decisive, nil
	})}, nil
}
