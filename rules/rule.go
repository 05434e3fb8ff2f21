package rules

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"
)

// Rule is one named condition over Facts. Evaluate reads the facts and
// writes nothing; it reports pass, fail with a reason, or an error outcome
// (Result.Err set), which never counts as a pass.
type Rule interface {
	Name() string
	Evaluate(ctx context.Context, f *Facts) Result
}

// Result is the outcome of one rule.
type Result struct {
	Rule   string // the rule's name
	Passed bool   // true only when the rule evaluated to true without error
	Reason string // why it failed (empty on pass)
	// Err is set when the rule could not be evaluated; it matches ErrEval
	// (and ErrCostLimit when the cost limit stopped it). Passed is then false.
	Err error
	// Causes holds the results of the parts of a composite rule that decided
	// its failure: the first failing part in Evaluate, every failing part in
	// a Set's Explain.
	Causes []Result
}

func errorResult(rule string, err error) Result {
	return Result{Rule: rule, Reason: "error: " + err.Error(), Err: err}
}

// explainer is implemented by composites, which in explain mode evaluate
// every part instead of short-circuiting.
type explainer interface {
	explain(ctx context.Context, f *Facts) Result
}

func evaluate(ctx context.Context, r Rule, f *Facts, explain bool) Result {
	if explain {
		if x, ok := r.(explainer); ok {
			return x.explain(ctx, f)
		}
	}
	return r.Evaluate(ctx, f)
}

// CELRule is a rule compiled from a CEL expression by Env.Compile. It is
// immutable and safe for concurrent use.
type CELRule struct {
	env    *Env
	name   string
	expr   string
	reason string
	prg    cel.Program
	// bounded is true when the static cost estimate maxCost is within the
	// limit, so the program runs without runtime cost tracking.
	bounded bool
	maxCost uint64
	// fast is the compiled closure tree (nil when the expression is outside
	// the fast subset); uses tells which list-guarded variables it reads.
	fast fn[bool]
	uses fastUses
}

var _ Rule = (*CELRule)(nil)

// Name returns the rule's name.
func (r *CELRule) Name() string { return r.name }

// Expr returns the source expression.
func (r *CELRule) Expr() string { return r.expr }

// Evaluate runs the expression against f. A nil f, a done ctx, a missing map
// key, a division by zero or an exhausted cost limit give an error outcome
// whose Err is an *EvalError (errors.Is ErrEval; ErrCostLimit for the limit).
// ctx is checked before the evaluation starts; the cost limit bounds the
// evaluation itself.
func (r *CELRule) Evaluate(ctx context.Context, f *Facts) Result {
	if f == nil {
		return errorResult(r.name, &EvalError{Rule: r.name, Err: errors.New("nil facts")})
	}
	if err := ctx.Err(); err != nil {
		return errorResult(r.name, &EvalError{Rule: r.name, Err: err})
	}
	if pass, ok := r.fastEval(f); ok {
		return r.outcome(pass)
	}
	a := r.env.getActivation(f)
	res := r.eval(a)
	r.env.putActivation(a)
	return res
}

// fastEval runs the closure tree. ok is false when the rule has none, when
// a list it reads is over the limit, or when the tree meets an error: the
// caller then runs the CEL program, which decides and words the error.
func (r *CELRule) fastEval(f *Facts) (pass, ok bool) {
	if r.fast == nil {
		return false, false
	}
	if (r.uses.user && len(f.User.Tags) > r.env.maxList) || (r.uses.lines && len(f.Lines) > r.env.maxList) {
		return false, false
	}
	v, err := r.fast(f, scope{})
	return v, err == nil
}

// outcome is the Result of a pass or a plain failure.
func (r *CELRule) outcome(pass bool) Result {
	if pass {
		return Result{Rule: r.name, Passed: true}
	}
	return Result{Rule: r.name, Reason: r.reason}
}

// eval runs the program over a prepared activation.
func (r *CELRule) eval(a *activation) Result {
	out, _, err := r.prg.Eval(a)
	if err != nil {
		return errorResult(r.name, evalError(r.name, err))
	}
	b, ok := out.(types.Bool)
	if !ok {
		return errorResult(r.name, &EvalError{Rule: r.name, Err: fmt.Errorf("result %v is not bool", out)})
	}
	return r.outcome(bool(b))
}

func evalError(rule string, err error) *EvalError {
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
		return &EvalError{Rule: rule, Err: err, costLimit: true}
	}
	return &EvalError{Rule: rule, Err: err}
}

// funcRule is a rule written in Go.
type funcRule struct {
	name string
	fn   func(*Facts) (bool, string)
}

// Func makes a Rule from a Go function that returns whether the facts pass
// and, when they do not, why. A panic in fn, or a nil f, is reported as an
// error outcome (ErrEval), never as a pass.
func Func(name string, fn func(f *Facts) (ok bool, reason string)) Rule {
	return &funcRule{name: name, fn: fn}
}

func (r *funcRule) Name() string { return r.name }

func (r *funcRule) Evaluate(ctx context.Context, f *Facts) (res Result) {
	if f == nil {
		return errorResult(r.name, &EvalError{Rule: r.name, Err: errors.New("nil facts")})
	}
	if err := ctx.Err(); err != nil {
		return errorResult(r.name, &EvalError{Rule: r.name, Err: err})
	}
	if r.fn == nil {
		return errorResult(r.name, &EvalError{Rule: r.name, Err: errors.New("nil function")})
	}
	defer func() {
		if p := recover(); p != nil {
			res = errorResult(r.name, &EvalError{Rule: r.name, Err: fmt.Errorf("panic: %v", p)})
		}
	}()
	ok, reason := r.fn(f)
	if ok {
		return Result{Rule: r.name, Passed: true}
	}
	if reason == "" {
		reason = "not satisfied"
	}
	return Result{Rule: r.name, Reason: reason}
}
