package rules

import (
	"context"
	"errors"
	"strings"
)

type compositeKind int

const (
	kindAll compositeKind = iota
	kindAny
	kindNot
)

// composite combines rules: all of them, any of them, or not the one.
type composite struct {
	kind   compositeKind
	name   string
	reason string // overrides the derived reason when set
	parts  []Rule
}

// All passes when every rule passes. Evaluate stops at the first rule that
// fails or errors and reports it as the cause. An empty All passes.
func All(name string, rules ...Rule) Rule {
	return &composite{kind: kindAll, name: name, parts: rules}
}

// Any passes when at least one rule passes, stopping at the first that does.
// When none passes it fails with every part's reason; when none passes and
// some part errored, the outcome is an error. An empty Any fails.
func Any(name string, rules ...Rule) Rule {
	return &composite{kind: kindAny, name: name, parts: rules}
}

// Not passes when r fails and fails when r passes. An error in r stays an
// error: it is never turned into a pass.
func Not(name string, r Rule) Rule {
	return &composite{kind: kindNot, name: name, parts: []Rule{r}}
}

func (c *composite) Name() string { return c.name }

// Evaluate implements Rule, short-circuiting.
func (c *composite) Evaluate(ctx context.Context, f *Facts) Result {
	return c.run(ctx, f, false)
}

func (c *composite) explain(ctx context.Context, f *Facts) Result {
	return c.run(ctx, f, true)
}

func (c *composite) run(ctx context.Context, f *Facts, explain bool) Result {
	switch c.kind {
	case kindAll:
		return c.all(ctx, f, explain)
	case kindAny:
		return c.any(ctx, f, explain)
	default:
		return c.not(ctx, f, explain)
	}
}

func (c *composite) all(ctx context.Context, f *Facts, explain bool) Result {
	var failed []Result
	for _, p := range c.parts {
		if p == nil {
			failed = append(failed, nilPart(c.name))
			break
		}
		r := evaluate(ctx, p, f, explain)
		if r.Passed {
			continue
		}
		failed = append(failed, r)
		if !explain {
			break
		}
	}
	if len(failed) == 0 {
		return Result{Rule: c.name, Passed: true}
	}
	return c.failure(failed, "")
}

func (c *composite) any(ctx context.Context, f *Facts, explain bool) Result {
	var failed []Result
	for _, p := range c.parts {
		if p == nil {
			failed = append(failed, nilPart(c.name))
			continue
		}
		r := evaluate(ctx, p, f, explain)
		if r.Passed {
			return Result{Rule: c.name, Passed: true}
		}
		failed = append(failed, r)
	}
	if len(failed) == 0 {
		return Result{Rule: c.name, Reason: c.reasonOr("no rule to satisfy")}
	}
	return c.failure(failed, "none satisfied: ")
}

func (c *composite) not(ctx context.Context, f *Facts, explain bool) Result {
	p := c.parts[0]
	if p == nil {
		return c.failure([]Result{nilPart(c.name)}, "")
	}
	r := evaluate(ctx, p, f, explain)
	switch {
	case r.Err != nil:
		return c.failure([]Result{r}, "")
	case r.Passed:
		return Result{Rule: c.name, Reason: c.reasonOr(r.Rule + " holds"), Causes: []Result{r}}
	}
	return Result{Rule: c.name, Passed: true}
}

// failure builds the failing result from the parts that caused it; any
// part's error makes the whole an error outcome.
func (c *composite) failure(failed []Result, prefix string) Result {
	var errs []error
	reasons := make([]string, 0, len(failed))
	for _, r := range failed {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
		reasons = append(reasons, r.Rule+": "+r.Reason)
	}
	res := Result{Rule: c.name, Causes: failed}
	res.Reason = c.reasonOr(prefix + strings.Join(reasons, "; "))
	if len(errs) == 1 {
		res.Err = errs[0]
	} else if len(errs) > 1 {
		res.Err = errors.Join(errs...)
	}
	return res
}

func (c *composite) reasonOr(derived string) string {
	if c.reason != "" {
		return c.reason
	}
	return derived
}

func nilPart(parent string) Result {
	return errorResult(parent, &EvalError{Rule: parent, Err: errors.New("nil rule")})
}
