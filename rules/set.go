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
	fast    *fastPath
}

// fastPath is one CEL program that is the conjunction of every enabled,
// window-free, statically cost-bounded CEL rule of the set: when it returns
// true all of them passed, in one evaluation. Any other outcome falls back
// to evaluating the rules one by one in order, which finds the first failure
// and its reason.
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
	s.fast = buildFastPath(s.entries)
	return s, nil
}

func buildFastPath(entries []Entry) *fastPath {
	var (
		env     *Env
		parts   []string
		covered = make([]bool, len(entries))
	)
	for i, e := range entries {
		r, ok := e.Rule.(*CELRule)
		if !ok || !r.bounded || e.Disabled || !e.From.IsZero() || !e.Until.IsZero() {
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
	var skip []bool
	if s.fast != nil && !explain {
		if err := ctx.Err(); err == nil {
			act = s.fast.env.getActivation(f)
			if out, _, err := s.fast.prg.Eval(act); err == nil && out == types.True {
				skip = s.fast.covered
				v.Evaluated = s.fast.n
			}
		}
	}
	for i := range s.entries {
		e := &s.entries[i]
		if skip != nil && skip[i] {
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
			} else {
				if act == nil || act.env != cr.env {
					if act != nil {
						act.env.putActivation(act)
					}
					act = cr.env.getActivation(f)
				}
				r = cr.eval(act)
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
