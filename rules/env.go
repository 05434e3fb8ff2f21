package rules

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"
)

// Defaults for an Env.
const (
	// DefaultCostLimit is the cost allowed to one evaluation of one rule
	// (CEL cost units, roughly one per operation): ample for eligibility
	// predicates, including a loop over DefaultMaxListSize lines, and small
	// enough to stop a runaway expression within about a millisecond.
	DefaultCostLimit = 100_000
	// DefaultMaxExpressionLength bounds the length of one expression, in code points.
	DefaultMaxExpressionLength = 4096
	// DefaultMaxListSize bounds len(Facts.Lines) and len(User.Tags).
	DefaultMaxListSize = 1000
)

// Env is the compiled CEL environment in which rules are compiled: the fact
// variables (order, lines, user, event, merchant, now, attrs, counters), the
// decimal type and functions, and the limits. An Env is safe for concurrent
// use; build it once and compile every rule against it.
type Env struct {
	cel       *cel.Env
	wide      *cel.Env // cel without the per-expression size limits, for whole-set programs
	costLimit uint64
	maxList   int
	// interpreted disables the compiled fast path: every rule runs its CEL
	// program (Interpreted).
	interpreted bool
	acts        sync.Pool // *activation
}

// Option configures an Env.
type Option func(*envConfig) error

type envConfig struct {
	costLimit   uint64
	maxLen      int
	maxList     int
	interpreted bool
}

// CostLimit sets the cost limit of one evaluation of one rule. A rule whose
// worst-case cost CEL's static estimate proves to be within n (with lists
// bounded by MaxListSize) runs without runtime tracking; any other rule runs
// under CEL's runtime cost limit and, when it goes over, stops with an error
// outcome matching ErrCostLimit. n must be > 0; otherwise NewEnv returns
// ErrInvalidDefinition.
func CostLimit(n uint64) Option {
	return func(c *envConfig) error {
		if n == 0 {
			return fmt.Errorf("cost limit must be positive: %w", ErrInvalidDefinition)
		}
		c.costLimit = n
		return nil
	}
}

// MaxExpressionLength bounds the length of an expression in code points.
// n must be > 0; otherwise NewEnv returns ErrInvalidDefinition.
func MaxExpressionLength(n int) Option {
	return func(c *envConfig) error {
		if n <= 0 {
			return fmt.Errorf("max expression length must be positive: %w", ErrInvalidDefinition)
		}
		c.maxLen = n
		return nil
	}
}

// MaxListSize bounds the number of order lines and of user tags a rule will
// look at; facts with more make every rule that reads them an error outcome.
// The bound lets the cost of a loop over lines be proved at compile time.
// n must be > 0; otherwise NewEnv returns ErrInvalidDefinition.
func MaxListSize(n int) Option {
	return func(c *envConfig) error {
		if n <= 0 {
			return fmt.Errorf("max list size must be positive: %w", ErrInvalidDefinition)
		}
		c.maxList = n
		return nil
	}
}

// Interpreted makes every rule compiled in the Env run on CEL's interpreter,
// without the compiled fast path (see the package documentation). Results
// are the same either way; the option exists to compare the two paths and
// to rule the fast path out when debugging. It never fails.
func Interpreted() Option {
	return func(c *envConfig) error {
		c.interpreted = true
		return nil
	}
}

// NewEnv builds an environment. It returns ErrInvalidDefinition for a bad
// option.
func NewEnv(opts ...Option) (*Env, error) {
	cfg := envConfig{costLimit: DefaultCostLimit, maxLen: DefaultMaxExpressionLength, maxList: DefaultMaxListSize}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	p, err := newProvider()
	if err != nil {
		return nil, fmt.Errorf("rules: type registry: %w", err)
	}
	envOpts := []cel.EnvOption{
		cel.CustomTypeProvider(p),
		cel.CustomTypeAdapter(p),
		cel.ParserExpressionSizeLimit(cfg.maxLen),
		cel.ParserRecursionLimit(64),
		cel.ExpressionNodeLimit(2000),
	}
	envOpts = append(envOpts, factVariables()...)
	envOpts = append(envOpts, decimalLibrary()...)
	ce, err := cel.NewEnv(envOpts...)
	if err != nil {
		return nil, fmt.Errorf("rules: cel environment: %w", err)
	}
	wide, err := ce.Extend(cel.ParserExpressionSizeLimit(-1), cel.ExpressionNodeLimit(-1), cel.ParserRecursionLimit(256))
	if err != nil {
		return nil, fmt.Errorf("rules: cel environment: %w", err)
	}
	e := &Env{cel: ce, wide: wide, costLimit: cfg.costLimit, maxList: cfg.maxList, interpreted: cfg.interpreted}
	e.acts.New = func() any { return &activation{env: e} }
	return e, nil
}

// RuleOption configures one compiled rule.
type RuleOption func(*CELRule)

// Reason sets the reason reported when the rule fails. Without it the reason
// is "not satisfied: " followed by the expression.
func Reason(text string) RuleOption {
	return func(r *CELRule) { r.reason = text }
}

// Compile parses, type-checks and plans expr once; the returned rule may be
// evaluated many times, concurrently. Errors: a *CompileError (errors.Is
// ErrCompile) naming the rule and the line:col of the problem, for a syntax
// error, an unknown variable, field or function, a type mismatch or an
// invalid dec("...") literal; the same error also matching ErrNotBool when
// the expression does not return bool.
func (e *Env) Compile(name, expr string, opts ...RuleOption) (*CELRule, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, &CompileError{Rule: name, Msg: "empty expression", Details: "empty expression"}
	}
	ast, iss := e.cel.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, compileError(name, iss.Errors())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, &CompileError{
			Rule:    name,
			Line:    1,
			Col:     1,
			Msg:     fmt.Sprintf("expression returns %s, want bool", ast.OutputType()),
			Details: fmt.Sprintf("expression returns %s, want bool", ast.OutputType()),
			notBool: true,
		}
	}
	if err := checkDecimalLiterals(name, ast); err != nil {
		return nil, err
	}
	// When the static estimate proves the expression can never cost more
	// than the limit, the program runs without the runtime cost tracker
	// (which would otherwise dominate the run time of a small predicate).
	est, estErr := e.cel.EstimateCost(ast, costEstimator{maxList: uint64(e.maxList)})
	bounded := estErr == nil && est.Max <= e.costLimit
	prg, err := e.program(ast, bounded, e.costLimit)
	if err != nil {
		return nil, &CompileError{Rule: name, Msg: err.Error(), Details: err.Error()}
	}
	r := &CELRule{env: e, name: name, expr: expr, prg: prg, bounded: bounded, maxCost: est.Max}
	// A bounded rule within the fast subset also gets a closure tree; CEL's
	// checked AST is its only input, so CEL stays the judge of syntax and
	// types. An unbounded rule keeps CEL's runtime cost limit.
	if bounded && !e.interpreted {
		if fast, uses, err := compileFast(ast); err == nil {
			r.fast, r.uses = fast, uses
		}
	}
	r.reason = "not satisfied: " + expr
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

func (e *Env) program(ast *cel.Ast, bounded bool, limit uint64) (cel.Program, error) {
	return programIn(e.cel, ast, bounded, limit)
}

func programIn(env *cel.Env, ast *cel.Ast, bounded bool, limit uint64) (cel.Program, error) {
	opts := []cel.ProgramOption{
		cel.EvalOptions(cel.OptOptimize),
		cel.CustomDecoratorV2(foldDecimalLiterals),
	}
	if !bounded {
		opts = append(opts, cel.CostLimit(limit))
	}
	return env.Program(ast, opts...)
}

// costEstimator tells CEL the enforced bound on list facts and leaves every
// other estimate to CEL's defaults (a custom function costs 1, as it does at
// run time).
type costEstimator struct{ maxList uint64 }

func (c costEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	// A decimal is one value (comparing two costs about as much as comparing
	// two ints), not a collection of unknown size: without this, == and !=
	// on decimals would count as unbounded.
	if t := n.Type(); t != nil && t.IsExactType(decimalType) {
		return &checker.SizeEstimate{Min: 1, Max: 1}
	}
	switch p := n.Path(); {
	case len(p) == 1 && p[0] == "lines", len(p) == 2 && p[0] == "user" && p[1] == "tags":
		return &checker.SizeEstimate{Min: 0, Max: c.maxList}
	}
	return nil
}

func (costEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

func compileError(name string, errs []*common.Error) error {
	ce := &CompileError{Rule: name}
	var b strings.Builder
	for i, e := range errs {
		line, col := e.Location.Line(), e.Location.Column()+1
		if i == 0 {
			ce.Msg = e.Message
			if line > 0 {
				ce.Line, ce.Col = line, col
			}
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d:%d: %s", line, col, e.Message)
	}
	if len(errs) == 0 {
		ce.Msg = "invalid expression"
	}
	ce.Details = b.String()
	return ce
}

// checkDecimalLiterals rejects dec("...") calls whose literal does not parse,
// so that a typo in an amount is a compile error with a position.
func checkDecimalLiterals(name string, a *cel.Ast) error {
	native := a.NativeRep()
	var bad error
	celast.PreOrderVisit(celast.NavigateAST(native), celast.NewExprVisitor(func(x celast.Expr) {
		if bad != nil || x.Kind() != celast.CallKind {
			return
		}
		call := x.AsCall()
		if call.FunctionName() != "dec" || call.IsMemberFunction() || len(call.Args()) != 1 {
			return
		}
		arg := call.Args()[0]
		if arg.Kind() != celast.LiteralKind {
			return
		}
		s, ok := arg.AsLiteral().(types.String)
		if !ok {
			return
		}
		if _, err := parseDecimal(string(s)); err != nil {
			loc := native.SourceInfo().GetStartLocation(arg.ID())
			ce := &CompileError{Rule: name, Msg: "dec: " + err.Error()}
			if loc.Line() > 0 {
				ce.Line, ce.Col = loc.Line(), loc.Column()+1
			}
			ce.Details = fmt.Sprintf("%d:%d: %s", ce.Line, ce.Col, ce.Msg)
			bad = ce
		}
	}))
	return bad
}

// foldDecimalLiterals turns dec(<constant>) into a constant at plan time, so
// that an amount literal is parsed once, not on every evaluation.
func foldDecimalLiterals(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	call, ok := i.(interpreter.InterpretableCall)
	if !ok || call.Function() != "dec" || len(call.Args()) != 1 {
		return i, nil
	}
	c, ok := call.Args()[0].(interpreter.InterpretableConst)
	if !ok {
		return i, nil
	}
	var v = decFromInt(c.Value())
	if s, isStr := c.Value().(types.String); isStr {
		v = decFromString(s)
	}
	if types.IsError(v) {
		return i, nil
	}
	return interpreter.NewConstValue(call.ID(), v), nil
}

func (e *Env) getActivation(f *Facts) *activation {
	a := e.acts.Get().(*activation)
	a.reset(f)
	return a
}

func (e *Env) putActivation(a *activation) {
	a.reset(nil)
	e.acts.Put(a)
}
