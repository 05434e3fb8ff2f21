package rules

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns is, or wraps, one of them.
var (
	// ErrCompile reports a CEL expression that does not parse or type-check.
	// The concrete error is a *CompileError with the rule and position.
	ErrCompile = errors.New("rules: compile error")
	// ErrNotBool reports an expression whose result type is not bool.
	ErrNotBool = errors.New("rules: expression does not return bool")
	// ErrCostLimit reports an evaluation stopped by the cost limit.
	ErrCostLimit = errors.New("rules: cost limit exceeded")
	// ErrEval reports a rule that failed to evaluate (missing key, division by
	// zero, cost limit, cancelled context). Such a rule never counts as passed.
	ErrEval = errors.New("rules: evaluation error")
	// ErrInvalidDefinition reports a rule definition or option that is
	// malformed: bad JSON, unknown field, missing expression, bad window.
	ErrInvalidDefinition = errors.New("rules: invalid definition")
	// ErrDuplicateID reports two rules with the same ID in one set.
	ErrDuplicateID = errors.New("rules: duplicate rule id")
	// ErrInvalidParam reports a standard condition built with bad parameters
	// (an empty set, a negative cap).
	ErrInvalidParam = errors.New("rules: invalid parameter")
)

// CompileError reports where an expression failed to compile. Line and Col
// are 1-based positions in the expression text (0 when unknown). It matches
// ErrCompile under errors.Is, and also ErrNotBool when the expression
// type-checks but does not return bool.
type CompileError struct {
	Rule    string // the rule ID or name
	Line    int    // 1-based line of the first problem
	Col     int    // 1-based column of the first problem
	Msg     string // the first problem
	Details string // every problem, as CEL reports them
	notBool bool
}

func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("rules: rule %q: %d:%d: %s", e.Rule, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("rules: rule %q: %s", e.Rule, e.Msg)
}

// Is reports whether target is ErrCompile (or ErrNotBool for a non-bool result).
func (e *CompileError) Is(target error) bool {
	return target == ErrCompile || (e.notBool && target == ErrNotBool)
}

// EvalError reports a rule that could not be evaluated. It matches ErrEval
// under errors.Is, and ErrCostLimit when the cost limit stopped it; Unwrap
// gives the underlying CEL or context error.
type EvalError struct {
	Rule      string
	Err       error
	costLimit bool
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("rules: rule %q: evaluation error: %v", e.Rule, e.Err)
}

// Is reports whether target is ErrEval (or ErrCostLimit when the limit hit).
func (e *EvalError) Is(target error) bool {
	return target == ErrEval || (e.costLimit && target == ErrCostLimit)
}

// Unwrap returns the underlying error.
func (e *EvalError) Unwrap() error { return e.Err }

// DefinitionError reports a problem in a rule definition, naming the rule
// (its ID, or its position in the list when it has none). It wraps the
// specific sentinel (ErrInvalidDefinition, ErrDuplicateID, ErrCompile, ...).
type DefinitionError struct {
	Rule string // rule ID, or "#3" for the fourth definition without one
	Err  error
}

func (e *DefinitionError) Error() string {
	return fmt.Sprintf("rules: definition %s: %v", e.Rule, e.Err)
}

// Unwrap returns the specific error.
func (e *DefinitionError) Unwrap() error { return e.Err }
