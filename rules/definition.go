package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on definitions, so that hostile input stays cheap to reject.
const (
	maxDefinitionDepth = 16
	maxIDLength        = 128
)

// Definition is the JSON (and Go) form of one rule: exactly one of Expr,
// All, Any or Not. Priority, Enabled and the window From/Until apply to
// top-level rules only.
//
//	{"id": "min-amount", "name": "Order of 100 or more",
//	 "expr": "order.amount >= dec(\"100\")", "priority": 10,
//	 "reason": "order below 100"}
type Definition struct {
	ID       string       `json:"id"`
	Name     string       `json:"name,omitempty"`
	Expr     string       `json:"expr,omitempty"`
	All      []Definition `json:"all,omitempty"`
	Any      []Definition `json:"any,omitempty"`
	Not      *Definition  `json:"not,omitempty"`
	Priority int          `json:"priority,omitempty"`
	Enabled  *bool        `json:"enabled,omitempty"` // nil means enabled
	From     *time.Time   `json:"from,omitempty"`
	Until    *time.Time   `json:"until,omitempty"`
	Reason   string       `json:"reason,omitempty"`
}

// document is the JSON rule set: {"rules": [...]}.
type document struct {
	Rules []Definition `json:"rules"`
}

// LoadJSON reads a rule set of the form {"rules": [Definition, ...]},
// refusing unknown fields and trailing data, and compiles every rule.
// Errors: ErrInvalidDefinition for bad JSON (with the byte offset), an
// unknown field or a malformed definition; otherwise as Build. Every error
// about a rule is a *DefinitionError naming it, and a compile error inside
// it is a *CompileError with line:col.
func (e *Env) LoadJSON(data []byte) (*Set, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc document
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("rules: rule set JSON: %s: %w", describeJSONError(err), ErrInvalidDefinition)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("rules: rule set JSON: trailing data after the rule set: %w", ErrInvalidDefinition)
	}
	if doc.Rules == nil {
		return nil, fmt.Errorf("rules: rule set JSON: missing \"rules\": %w", ErrInvalidDefinition)
	}
	return e.Build(doc.Rules...)
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("offset %d: %v", syn.Offset, err)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("offset %d: field %q: cannot use %s as %s", typ.Offset, typ.Field, typ.Value, typ.Type)
	}
	return err.Error()
}

// Build validates and compiles definitions into a Set. Errors, each a
// *DefinitionError naming the rule: ErrInvalidDefinition (missing or
// malformed ID, not exactly one of expr/all/any/not, nesting deeper than 16,
// window or priority on a nested rule, From not before Until);
// ErrDuplicateID; ErrCompile (a *CompileError with line:col) and ErrNotBool.
func (e *Env) Build(defs ...Definition) (*Set, error) {
	ids := make(map[string]bool)
	entries := make([]Entry, 0, len(defs))
	for i := range defs {
		d := &defs[i]
		label := fmt.Sprintf("#%d", i)
		if d.ID != "" {
			label = d.ID
		}
		r, err := e.build(d, label, ids, 0)
		if err != nil {
			return nil, err
		}
		entry := Entry{Rule: r, Title: d.Name, Priority: d.Priority, Disabled: d.Enabled != nil && !*d.Enabled}
		if d.From != nil {
			entry.From = *d.From
		}
		if d.Until != nil {
			entry.Until = *d.Until
		}
		entries = append(entries, entry)
	}
	return NewSet(entries...)
}

func (e *Env) build(d *Definition, label string, ids map[string]bool, depth int) (Rule, error) {
	invalid := func(format string, args ...any) error {
		return &DefinitionError{Rule: label, Err: fmt.Errorf(format+": %w", append(args, ErrInvalidDefinition)...)}
	}
	if depth > maxDefinitionDepth {
		return nil, invalid("nested deeper than %d", maxDefinitionDepth)
	}
	if depth == 0 || d.ID != "" {
		if err := validID(d.ID); err != nil {
			return nil, invalid("%v", err)
		}
		if ids[d.ID] {
			return nil, &DefinitionError{Rule: label, Err: ErrDuplicateID}
		}
		ids[d.ID] = true
	}
	if depth > 0 && (d.Priority != 0 || d.Enabled != nil || d.From != nil || d.Until != nil) {
		return nil, invalid("priority, enabled, from and until apply to top-level rules only")
	}
	if d.From != nil && d.Until != nil && !d.From.Before(*d.Until) {
		return nil, invalid("window from %s is not before until %s",
			d.From.Format(time.RFC3339), d.Until.Format(time.RFC3339))
	}
	kinds := 0
	for _, set := range []bool{d.Expr != "", len(d.All) > 0, len(d.Any) > 0, d.Not != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, invalid("want exactly one of expr, all, any, not (got %d)", kinds)
	}
	name := label
	switch {
	case d.Expr != "":
		r, err := e.Compile(name, d.Expr)
		if err != nil {
			return nil, &DefinitionError{Rule: label, Err: err}
		}
		if d.Reason != "" {
			r.reason = d.Reason
		}
		return r, nil
	case d.Not != nil:
		part, err := e.build(d.Not, childLabel(label, "not", 0, d.Not.ID), ids, depth+1)
		if err != nil {
			return nil, err
		}
		return &composite{kind: kindNot, name: name, reason: d.Reason, parts: []Rule{part}}, nil
	}
	kind, children, word := kindAll, d.All, "all"
	if len(d.Any) > 0 {
		kind, children, word = kindAny, d.Any, "any"
	}
	parts := make([]Rule, 0, len(children))
	for i := range children {
		part, err := e.build(&children[i], childLabel(label, word, i, children[i].ID), ids, depth+1)
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	return &composite{kind: kind, name: name, reason: d.Reason, parts: parts}, nil
}

func childLabel(parent, word string, i int, id string) string {
	if id != "" {
		return id
	}
	return fmt.Sprintf("%s/%s[%d]", parent, word, i)
}

func validID(id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return errors.New("missing id")
	case len(id) > maxIDLength:
		return fmt.Errorf("id longer than %d bytes", maxIDLength)
	case !utf8.ValidString(id):
		return errors.New("id is not valid UTF-8")
	case strings.ContainsFunc(id, unicode.IsControl):
		return errors.New("id contains control characters")
	}
	return nil
}
