package rules

import (
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
	"github.com/rewardkit/rewardkit/money"
	"github.com/shopspring/decimal"
)

// CEL names of the fact struct types.
const (
	orderTypeName    = "rules.Order"
	lineTypeName     = "rules.Line"
	userTypeName     = "rules.User"
	eventTypeName    = "rules.Event"
	merchantTypeName = "rules.Merchant"
)

// field describes one field of a fact struct as CEL sees it.
type field[T any] struct {
	name  string
	typ   *types.Type
	get   func(*T) ref.Val // the CEL value of the field
	isSet func(*T) bool    // presence for has(): the field is not its zero value
}

// structDesc is the CEL view of one Go fact struct.
type structDesc struct {
	typ    *types.Type
	names  []string
	fields map[string]*types.FieldType
	getter map[string]func(any) (ref.Val, bool)
}

// newStructDesc builds the descriptor of T; the getters accept *T or T.
func newStructDesc[T any](name string, fields ...field[T]) *structDesc {
	d := &structDesc{
		typ:    types.NewObjectType(name),
		fields: make(map[string]*types.FieldType, len(fields)),
		getter: make(map[string]func(any) (ref.Val, bool), len(fields)),
	}
	for _, f := range fields {
		get, isSet := f.get, f.isSet
		ptr := func(target any) (*T, bool) {
			switch t := target.(type) {
			case *T:
				return t, t != nil
			case T:
				return &t, true
			}
			return nil, false
		}
		d.names = append(d.names, f.name)
		d.getter[f.name] = func(target any) (ref.Val, bool) {
			p, ok := ptr(target)
			if !ok {
				return nil, false
			}
			return get(p), true
		}
		fname := f.name
		d.fields[f.name] = &types.FieldType{
			Type: f.typ,
			IsSet: func(target any) bool {
				p, ok := ptr(target)
				return ok && isSet(p)
			},
			GetFrom: func(target any) (any, error) {
				p, ok := ptr(target)
				if !ok {
					return nil, fmt.Errorf("rules: field %s.%s read from %T", name, fname, target)
				}
				return get(p), nil
			},
		}
	}
	sort.Strings(d.names)
	return d
}

func str[T any](name string, get func(*T) string) field[T] {
	return field[T]{
		name:  name,
		typ:   types.StringType,
		get:   func(p *T) ref.Val { return types.String(get(p)) },
		isSet: func(p *T) bool { return get(p) != "" },
	}
}

func boolean[T any](name string, get func(*T) bool) field[T] {
	return field[T]{
		name:  name,
		typ:   types.BoolType,
		get:   func(p *T) ref.Val { return types.Bool(get(p)) },
		isSet: get,
	}
}

func integer[T any](name string, get func(*T) int64) field[T] {
	return field[T]{
		name:  name,
		typ:   types.IntType,
		get:   func(p *T) ref.Val { return types.Int(get(p)) },
		isSet: func(p *T) bool { return get(p) != 0 },
	}
}

func timestamp[T any](name string, get func(*T) time.Time) field[T] {
	return field[T]{
		name:  name,
		typ:   types.TimestampType,
		get:   func(p *T) ref.Val { return types.Timestamp{Time: get(p)} },
		isSet: func(p *T) bool { return !get(p).IsZero() },
	}
}

func amount[T any](name string, get func(*T) money.Amount) field[T] {
	return field[T]{
		name:  name,
		typ:   decimalType,
		get:   func(p *T) ref.Val { return decVal{get(p).Decimal()} },
		isSet: func(p *T) bool { return !get(p).Currency().IsZero() },
	}
}

func currency[T any](name string, get func(*T) money.Amount) field[T] {
	return field[T]{
		name:  name,
		typ:   types.StringType,
		get:   func(p *T) ref.Val { return types.String(get(p).Currency().Code()) },
		isSet: func(p *T) bool { return !get(p).Currency().IsZero() },
	}
}

func stringMap[T any](name string, get func(*T) map[string]string) field[T] {
	return field[T]{
		name:  name,
		typ:   types.NewMapType(types.StringType, types.StringType),
		get:   func(p *T) ref.Val { return types.NewStringStringMap(types.DefaultTypeAdapter, get(p)) },
		isSet: func(p *T) bool { return len(get(p)) > 0 },
	}
}

func stringList[T any](name string, get func(*T) []string) field[T] {
	return field[T]{
		name:  name,
		typ:   types.NewListType(types.StringType),
		get:   func(p *T) ref.Val { return types.NewStringList(types.DefaultTypeAdapter, get(p)) },
		isSet: func(p *T) bool { return len(get(p)) > 0 },
	}
}

// The descriptors of the fact structs. They are built once and never
// changed afterwards.
var (
	orderDesc = newStructDesc(orderTypeName,
		str("id", func(o *Order) string { return o.ID }),
		amount("amount", func(o *Order) money.Amount { return o.Amount }),
		currency("currency", func(o *Order) money.Amount { return o.Amount }),
		str("status", func(o *Order) string { return o.Status }),
		str("channel", func(o *Order) string { return o.Channel }),
		str("region", func(o *Order) string { return o.Region }),
		str("shop_id", func(o *Order) string { return o.ShopID }),
		boolean("first_order", func(o *Order) bool { return o.FirstOrder }),
		boolean("refunded", func(o *Order) bool { return o.Refunded }),
		timestamp("created_at", func(o *Order) time.Time { return o.CreatedAt }),
		stringMap("attrs", func(o *Order) map[string]string { return o.Attrs }),
	)
	lineDesc = newStructDesc(lineTypeName,
		str("sku", func(l *Line) string { return l.SKU }),
		str("category", func(l *Line) string { return l.Category }),
		integer("quantity", func(l *Line) int64 { return l.Quantity }),
		amount("unit_price", func(l *Line) money.Amount { return l.UnitPrice }),
		amount("amount", func(l *Line) money.Amount { return l.Amount }),
	)
	userDesc = newStructDesc(userTypeName,
		str("id", func(u *User) string { return u.ID }),
		str("type", func(u *User) string { return u.Type }),
		str("tier", func(u *User) string { return u.Tier }),
		str("region", func(u *User) string { return u.Region }),
		str("device_id", func(u *User) string { return u.DeviceID }),
		str("phone", func(u *User) string { return u.Phone }),
		boolean("is_new", func(u *User) bool { return u.IsNew }),
		boolean("deny_listed", func(u *User) bool { return u.DenyListed }),
		boolean("attended", func(u *User) bool { return u.Attended }),
		timestamp("registered_at", func(u *User) time.Time { return u.RegisteredAt }),
		stringList("tags", func(u *User) []string { return u.Tags }),
	)
	eventDesc = newStructDesc(eventTypeName,
		str("id", func(e *Event) string { return e.ID }),
		str("type", func(e *Event) string { return e.Type }),
		timestamp("time", func(e *Event) time.Time { return e.Time }),
		stringMap("attrs", func(e *Event) map[string]string { return e.Attrs }),
	)
	merchantDesc = newStructDesc(merchantTypeName,
		str("id", func(m *Merchant) string { return m.ID }),
		str("shop_id", func(m *Merchant) string { return m.ShopID }),
		str("region", func(m *Merchant) string { return m.Region }),
		str("category", func(m *Merchant) string { return m.Category }),
	)
)

// factTypes returns the descriptors of every fact struct, by CEL type name.
func factTypes() map[string]*structDesc {
	out := make(map[string]*structDesc)
	for _, d := range []*structDesc{orderDesc, lineDesc, userDesc, eventDesc, merchantDesc} {
		out[d.typ.TypeName()] = d
	}
	return out
}

// descOf returns the descriptor of a fact struct type.
func descOf[T any]() *structDesc {
	switch any((*T)(nil)).(type) {
	case *Order:
		return orderDesc
	case *Line:
		return lineDesc
	case *User:
		return userDesc
	case *Event:
		return eventDesc
	case *Merchant:
		return merchantDesc
	}
	return nil
}

// provider teaches CEL the fact struct types on top of the standard registry,
// so that the checker rejects unknown fields at compile time.
type provider struct {
	*types.Registry
	structs map[string]*structDesc
}

func newProvider() (*provider, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	return &provider{Registry: reg, structs: factTypes()}, nil
}

// FindStructType implements types.Provider.
func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if d, ok := p.structs[name]; ok {
		return types.NewTypeTypeWithParam(d.typ), true
	}
	return p.Registry.FindStructType(name)
}

// FindStructFieldNames implements types.Provider.
func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if d, ok := p.structs[name]; ok {
		return append([]string(nil), d.names...), true
	}
	return p.Registry.FindStructFieldNames(name)
}

// FindStructFieldType implements types.Provider.
func (p *provider) FindStructFieldType(name, fieldName string) (*types.FieldType, bool) {
	if d, ok := p.structs[name]; ok {
		ft, found := d.fields[fieldName]
		return ft, found
	}
	return p.Registry.FindStructFieldType(name, fieldName)
}

// NewValue implements types.Provider: facts are inputs, expressions cannot build them.
func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.structs[name]; ok {
		return types.NewErr("rules: cannot construct %s in an expression", name)
	}
	return p.Registry.NewValue(name, fields)
}

// NativeToValue implements types.Adapter.
func (p *provider) NativeToValue(value any) ref.Val {
	switch v := value.(type) {
	case ref.Val:
		return v
	case *Order:
		return objVal[Order]{v}
	case *Line:
		return objVal[Line]{v}
	case *User:
		return objVal[User]{v}
	case *Event:
		return objVal[Event]{v}
	case *Merchant:
		return objVal[Merchant]{v}
	case Order:
		return objVal[Order]{&v}
	case Line:
		return objVal[Line]{&v}
	case User:
		return objVal[User]{&v}
	case Event:
		return objVal[Event]{&v}
	case Merchant:
		return objVal[Merchant]{&v}
	case decimal.Decimal:
		return decVal{v}
	case map[string]int64:
		return counterMap{v}
	}
	return p.Registry.NativeToValue(value)
}

// objVal is a fact struct seen as a CEL object. It holds one pointer, so
// it converts to ref.Val without allocating.
type objVal[T any] struct{ p *T }

var (
	_ ref.Val        = objVal[Order]{}
	_ traits.Indexer = objVal[Order]{}
)

// ConvertToNative implements ref.Val.
func (o objVal[T]) ConvertToNative(typeDesc reflect.Type) (any, error) {
	switch typeDesc {
	case reflect.TypeFor[*T](), reflect.TypeFor[any]():
		return o.p, nil
	case reflect.TypeFor[T]():
		return *o.p, nil
	}
	return nil, fmt.Errorf("rules: %s cannot convert to %v", descOf[T]().typ.TypeName(), typeDesc)
}

// ConvertToType implements ref.Val.
func (o objVal[T]) ConvertToType(typeVal ref.Type) ref.Val {
	d := descOf[T]()
	switch typeVal {
	case types.TypeType:
		return d.typ
	case d.typ:
		return o
	}
	return types.NewErr("rules: %s cannot convert to %s", d.typ.TypeName(), typeVal.TypeName())
}

// Equal implements ref.Val: equal when the structs are deeply equal.
func (o objVal[T]) Equal(other ref.Val) ref.Val {
	x, ok := other.(objVal[T])
	if !ok {
		return types.False
	}
	return types.Bool(x.p == o.p || reflect.DeepEqual(x.p, o.p))
}

// Type implements ref.Val.
func (o objVal[T]) Type() ref.Type { return descOf[T]().typ }

// Value implements ref.Val.
func (o objVal[T]) Value() any { return o.p }

// Get implements traits.Indexer for dynamic field access.
func (o objVal[T]) Get(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.ValOrErr(index, "no such overload")
	}
	get, ok := descOf[T]().getter[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", string(name))
	}
	v, _ := get(o.p)
	return v
}

// lineList is the CEL list of order lines; its elements point into the
// caller's slice, so reading them does not copy or allocate.
type lineList struct{ lines []Line }

var _ traits.Lister = (*lineList)(nil)

func (l *lineList) ConvertToNative(typeDesc reflect.Type) (any, error) {
	switch typeDesc {
	case reflect.TypeFor[[]Line](), reflect.TypeFor[any]():
		return l.lines, nil
	}
	return nil, fmt.Errorf("rules: lines cannot convert to %v", typeDesc)
}

func (l *lineList) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.ListType:
		return l
	case types.TypeType:
		return types.ListType
	}
	return types.NewErr("rules: lines cannot convert to %s", typeVal.TypeName())
}

func (l *lineList) Equal(other ref.Val) ref.Val {
	o, ok := other.(traits.Lister)
	if !ok || o.Size() != l.Size() {
		return types.False
	}
	for i := range l.lines {
		if eq := (objVal[Line]{&l.lines[i]}).Equal(o.Get(types.Int(i))); eq != types.True {
			return eq
		}
	}
	return types.True
}

func (l *lineList) Type() ref.Type { return types.ListType }
func (l *lineList) Value() any     { return l.lines }
func (l *lineList) Size() ref.Val  { return types.Int(len(l.lines)) }

func (l *lineList) Get(index ref.Val) ref.Val {
	i, err := types.IndexOrError(index)
	if err != nil {
		return types.WrapErr(err)
	}
	if i < 0 || i >= len(l.lines) {
		return types.NewErr("index out of range: %d", i)
	}
	return objVal[Line]{&l.lines[i]}
}

func (l *lineList) Contains(value ref.Val) ref.Val {
	for i := range l.lines {
		if (objVal[Line]{&l.lines[i]}).Equal(value) == types.True {
			return types.True
		}
	}
	return types.False
}

func (l *lineList) Add(other ref.Val) ref.Val {
	o, ok := other.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	n := int(o.Size().(types.Int))
	vals := make([]ref.Val, 0, len(l.lines)+n)
	for i := range l.lines {
		vals = append(vals, objVal[Line]{&l.lines[i]})
	}
	for i := range n {
		vals = append(vals, o.Get(types.Int(i)))
	}
	return types.NewRefValList(types.DefaultTypeAdapter, vals)
}

func (l *lineList) Iterator() traits.Iterator { return &lineIter{lines: l.lines} }

type lineIter struct {
	lines []Line
	next  int
}

func (it *lineIter) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("rules: iterator cannot convert to native")
}
func (it *lineIter) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("rules: iterator cannot convert")
}
func (it *lineIter) Equal(ref.Val) ref.Val { return types.False }
func (it *lineIter) Type() ref.Type        { return types.IteratorType }
func (it *lineIter) Value() any            { return nil }
func (it *lineIter) HasNext() ref.Val      { return types.Bool(it.next < len(it.lines)) }
func (it *lineIter) Next() ref.Val {
	if it.next >= len(it.lines) {
		return nil
	}
	v := objVal[Line]{&it.lines[it.next]}
	it.next++
	return v
}

// counterMap is the CEL map(string, int) over Facts.Counters, read without
// reflection.
type counterMap struct{ m map[string]int64 }

var _ traits.Mapper = counterMap{}

func (c counterMap) ConvertToNative(typeDesc reflect.Type) (any, error) {
	switch typeDesc {
	case reflect.TypeFor[map[string]int64](), reflect.TypeFor[any]():
		return c.m, nil
	}
	return nil, fmt.Errorf("rules: counters cannot convert to %v", typeDesc)
}

func (c counterMap) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.MapType:
		return c
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("rules: counters cannot convert to %s", typeVal.TypeName())
}

func (c counterMap) Equal(other ref.Val) ref.Val {
	o, ok := other.(traits.Mapper)
	if !ok || o.Size() != c.Size() {
		return types.False
	}
	for k, v := range c.m {
		ov, found := o.Find(types.String(k))
		if !found || ov.Equal(types.Int(v)) != types.True {
			return types.False
		}
	}
	return types.True
}

func (c counterMap) Type() ref.Type { return types.MapType }
func (c counterMap) Value() any     { return c.m }
func (c counterMap) Size() ref.Val  { return types.Int(len(c.m)) }

func (c counterMap) Contains(key ref.Val) ref.Val {
	_, found := c.Find(key)
	return types.Bool(found)
}

func (c counterMap) Get(key ref.Val) ref.Val {
	v, found := c.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

func (c counterMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return key, false
		}
		return nil, false
	}
	v, found := c.m[string(k)]
	if !found {
		return nil, false
	}
	return types.Int(v), true
}

func (c counterMap) Iterator() traits.Iterator {
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return types.NewStringList(types.DefaultTypeAdapter, keys).(traits.Lister).Iterator()
}

// factVariables declares the top-level CEL variables.
func factVariables() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Variable("order", cel.ObjectType(orderTypeName)),
		cel.Variable("lines", cel.ListType(cel.ObjectType(lineTypeName))),
		cel.Variable("user", cel.ObjectType(userTypeName)),
		cel.Variable("event", cel.ObjectType(eventTypeName)),
		cel.Variable("merchant", cel.ObjectType(merchantTypeName)),
		cel.Variable("now", cel.TimestampType),
		cel.Variable("attrs", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("counters", cel.MapType(cel.StringType, cel.IntType)),
	}
}

// activation resolves the CEL variables straight from a *Facts, without
// building a map per evaluation. Activations are pooled per Env and serve
// one evaluation (of a rule or of a whole set) at a time.
type activation struct {
	env   *Env
	facts *Facts
	lines lineList
	now   ref.Val // boxed once per evaluation
}

var _ interpreter.Activation = (*activation)(nil)

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	f := a.facts
	switch name {
	case "order":
		return &f.Order, true
	case "user":
		if len(f.User.Tags) > a.env.maxList {
			return types.NewErr("rules: %d user tags exceed the limit of %d", len(f.User.Tags), a.env.maxList), true
		}
		return &f.User, true
	case "event":
		return &f.Event, true
	case "merchant":
		return &f.Merchant, true
	case "now":
		if a.now == nil {
			a.now = types.Timestamp{Time: f.Now}
		}
		return a.now, true
	case "attrs":
		return f.Attrs, true
	case "counters":
		return counterMap{f.Counters}, true
	case "lines":
		if len(f.Lines) > a.env.maxList {
			return types.NewErr("rules: %d order lines exceed the limit of %d", len(f.Lines), a.env.maxList), true
		}
		a.lines.lines = f.Lines
		return &a.lines, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) reset(f *Facts) {
	a.facts = f
	a.lines.lines = nil
	a.now = nil
}
