package rules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// Entry places a rule in a Set.
type Entry struct {
	Rule Rule
	// Title is a human-readable name (optional).
	Title string
	// Priority orders evaluation: higher first; equal priorities keep their
	// given order.
	Priority int
	// Disabled rules are kept in the set but never evaluated.
	Disabled bool
	// From and Until bound the effective window [From, Until) checked against
	// Facts.Now; a zero bound is open.
	From, Until time.Time
}

// Set is an ordered list of rules that together decide eligibility. It is
// immutable and safe for concurrent use.
type Set struct {
	entries []Entry
	// compiled holds, by entry index, the CEL rules that are enabled,
	// window-free and compiled to a closure tree: those run without CEL.
	compiled []*CELRule
	fast     *fastPath
}

// fastPath is one CEL program that is the conjunction of every other
// enabled, window-free, statically cost-bounded CEL rule of the set (those
// outside the closure subset): when it returns true all of them passed, in
// one evaluation. Any other outcome falls back to evaluating the rules one
// by one in order, which finds the first failure and its reason.
type fastPath struct {
	env     *Env
	prg     cel.Program
	covered []bool // by entry index
	n       int
}

// NewSet orders the entries by priority. Errors: ErrInvalidDefinition for a
// nil rule, an empty name or a window whose From is not before Until;
// ErrDuplicateID for two rules with one name. Each is wrapped in a
// *DefinitionError naming the rule.
func NewSet(entries ...Entry) (*Set, error) {
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		if e.Rule == nil {
			return nil, &DefinitionError{Rule: fmt.Sprintf("#%d", i), Err: fmt.Errorf("nil rule: %w", ErrInvalidDefinition)}
		}
		name := e.Rule.Name()
		if name == "" {
			return nil, &DefinitionError{Rule: fmt.Sprintf("#%d", i), Err: fmt.Errorf("empty rule name: %w", ErrInvalidDefinition)}
		}
		if seen[name] {
			return nil, &DefinitionError{Rule: name, Err: ErrDuplicateID}
		}
		seen[name] = true
		if !e.From.IsZero() && !e.Until.IsZero() && !e.From.Before(e.Until) {
			return nil, &DefinitionError{Rule: name, Err: fmt.Errorf("window from %s is not before until %s: %w",
				e.From.Format(time.RFC3339), e.Until.Format(time.RFC3339), ErrInvalidDefinition)}
		}
	}
	s := &Set{entries: slices.Clone(entries)}
	slices.SortStableFunc(s.entries, func(a, b Entry) int { return b.Priority - a.Priority })
	s.compiled = make([]*CELRule, len(s.entries))
	for i, e := range s.entries {
		if r, ok := e.Rule.(*CELRule); ok && r.fast != nil && !e.Disabled && e.From.IsZero() && e.Until.IsZero() {
			s.compiled[i] = r
		}
	}
	s.fast = buildFastPath(s.entries, s.compiled)
	return s, nil
}

func buildFastPath(entries []Entry, compiled []*CELRule) *fastPath {
	var (
		env     *Env
		parts   []string
		covered = make([]bool, len(entries))
	)
	for i, e := range entries {
		r, ok := e.Rule.(*CELRule)
		if !ok || !r.bounded || compiled[i] != nil || e.Disabled || !e.From.IsZero() || !e.Until.IsZero() {
			continue
		}
		if env == nil {
			env = r.env
		}
		if r.env != env {
			continue
		}
		// Newlines end any // comment inside the rule.
		parts = append(parts, "(\n"+r.expr+"\n)")
		covered[i] = true
	}
	if len(parts) < 2 {
		return nil
	}
	ast, iss := env.wide.Compile(strings.Join(parts, " && "))
	if iss != nil && iss.Err() != nil {
		return nil
	}
	prg, err := programIn(env.wide, ast, true, 0)
	if err != nil {
		return nil
	}
	return &fastPath{env: env, prg: prg, covered: covered, n: len(parts)}
}

// Entries returns the set's entries in evaluation order.
func (s *Set) Entries() []Entry { return slices.Clone(s.entries) }

// Len returns the number of rules, enabled or not.
func (s *Set) Len() int { return len(s.entries) }

// Verdict is the outcome of a Set.
type Verdict struct {
	// Passed is true when every applicable rule passed.
	Passed bool
	// Failures holds the failing and erroring rules in evaluation order:
	// at most one from Evaluate, every one from Explain.
	Failures []Result
	// Evaluated counts the rules that ran; Skipped those disabled or
	// outside their window.
	Evaluated, Skipped int
}

// Err joins the errors of the rules that could not be evaluated (nil if
// none), so that a caller can tell "not eligible" from "could not decide".
func (v Verdict) Err() error {
	var errs []error
	for _, r := range v.Failures {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

// Evaluate runs the applicable rules in order and stops at the first that
// fails or errors. An error outcome is never a pass; Verdict.Err reports it.
func (s *Set) Evaluate(ctx context.Context, f *Facts) Verdict {
	return s.run(ctx, f, false)
}

// Explain runs every applicable rule, composites included in full, and
// reports every failure with its reason.
func (s *Set) Explain(ctx context.Context, f *Facts) Verdict {
	return s.run(ctx, f, true)
}

func (s *Set) run(ctx context.Context, f *Facts, explain bool) Verdict {
	v := Verdict{Passed: true}
	if f == nil {
		v.Passed = false
		v.Failures = []Result{errorResult("", &EvalError{Err: errors.New("nil facts")})}
		return v
	}
	// One activation serves every CEL rule in the pass.
	var act *activation
	defer func() {
		if act != nil {
			act.env.putActivation(act)
		}
	}()
	// Compiled rules take nanoseconds: ctx is checked once for all of them.
	ctxErr := ctx.Err()
	var skip []bool
	if s.fast != nil && !explain {
		if ctxErr == nil {
			act = s.fast.env.getActivation(f)
			if out, _, err := s.fast.prg.Eval(act); err == nil && out == types.True {
				skip = s.fast.covered
			}
		}
	}
	for i := range s.entries {
		if cr := s.compiled[i]; cr != nil && ctxErr == nil {
			v.Evaluated++
			pass, ok := cr.fastEval(f)
			if ok && pass {
				continue
			}
			r := cr.outcome(false)
			if !ok {
				// An error (or a list over the limit): CEL decides and
				// words it.
				if r = cr.eval(activationFor(cr, f, &act)); r.Passed {
					continue
				}
			}
			v.Passed = false
			v.Failures = append(v.Failures, r)
			if !explain {
				return v
			}
			continue
		}
		e := &s.entries[i]
		if skip != nil && skip[i] {
			// Passed within the shared program; counted where it stands, so
			// that a later failure reports the same count as the slow path.
			v.Evaluated++
			continue
		}
		if e.Disabled {
			v.Skipped++
			continue
		}
		name := e.Rule.Name()
		if !e.From.IsZero() || !e.Until.IsZero() {
			if f.Now.IsZero() {
				v.Evaluated++
				v.Passed = false
				v.Failures = append(v.Failures, errorResult(name,
					&EvalError{Rule: name, Err: errors.New("Facts.Now is not set for a rule with an effective window")}))
				if !explain {
					return v
				}
				continue
			}
			if (!e.From.IsZero() && f.Now.Before(e.From)) || (!e.Until.IsZero() && !f.Now.Before(e.Until)) {
				v.Skipped++
				continue
			}
		}
		v.Evaluated++
		var r Result
		if cr, ok := e.Rule.(*CELRule); ok {
			if err := ctx.Err(); err != nil {
				r = errorResult(name, &EvalError{Rule: name, Err: err})
			} else if pass, ok := cr.fastEval(f); ok {
				r = cr.outcome(pass)
			} else {
				r = cr.eval(activationFor(cr, f, &act))
			}
		} else {
			r = evaluate(ctx, e.Rule, f, explain)
		}
		if r.Passed {
			continue
		}
		v.Passed = false
		v.Failures = append(v.Failures, r)
		if !explain {
			return v
		}
	}
	return v
}

// activationFor returns an activation of r's Env over f, reusing *act when
// it belongs to that Env and swapping it otherwise; the caller puts the
// last one back.
func activationFor(r *CELRule, f *Facts, act **activation) *activation {
	if *act == nil || (*act).env != r.env {
		if *act != nil {
			(*act).env.putActivation(*act)
		}
		*act = r.env.getActivation(f)
	}
	return *act
}
