package rules_test

import (
	"context"
	"testing"

	"github.com/rewardkit/rewardkit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const campaignJSON = `{"rules": [
  {"id": "paid", "name": "Paid orders", "expr": "order.status == \"PAID\"", "priority": 10,
   "reason": "order not paid"},
  {"id": "amount", "expr": "order.amount >= dec(\"100.00\")", "priority": 5},
  {"id": "audience", "any": [
     {"id": "gold", "expr": "user.tier == \"gold\""},
     {"expr": "user.is_new", "reason": "neither gold nor new"}
  ]},
  {"id": "clean", "not": {"expr": "user.deny_listed || order.refunded"}, "reason": "deny-listed or refunded"},
  {"id": "off", "expr": "false", "enabled": false},
  {"id": "january", "expr": "order.channel == \"app\"",
   "from": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}
]}`

func TestLoadJSON(t *testing.T) {
	env := newEnv(t)
	set, err := env.LoadJSON([]byte(campaignJSON))
	require.NoError(t, err)
	assert.Equal(t, 6, set.Len())
	entries := set.Entries()
	assert.Equal(t, "paid", entries[0].Rule.Name())
	assert.Equal(t, "Paid orders", entries[0].Title)
	assert.True(t, entries[len(entries)-2].Disabled || entries[len(entries)-1].Disabled)

	f := eligibleFacts()
	v := set.Evaluate(context.Background(), f)
	assert.True(t, v.Passed, v.Failures)
	assert.Equal(t, 1, v.Skipped)

	f.Order.Status = "CREATED"
	f.User.Tier, f.User.IsNew = "silver", false
	f.Order.Refunded = true
	v = set.Explain(context.Background(), f)
	require.Len(t, v.Failures, 3)
	assert.Equal(t, "paid", v.Failures[0].Rule)
	assert.Equal(t, "order not paid", v.Failures[0].Reason)
	assert.Equal(t, "audience", v.Failures[1].Rule)
	assert.Equal(t, "none satisfied: gold: not satisfied: user.tier == \"gold\"; audience/any[1]: neither gold nor new",
		v.Failures[1].Reason)
	assert.Equal(t, "clean", v.Failures[2].Rule)
	assert.Equal(t, "deny-listed or refunded", v.Failures[2].Reason)
}

func TestLoadJSONErrors(t *testing.T) {
	env := newEnv(t)
	tests := []struct {
		name     string
		json     string
		want     error
		rule     string // the rule the error names, if any
		contains string
	}{
		{"bad json", `{"rules": [`, rules.ErrInvalidDefinition, "", "JSON"},
		{"syntax offset", `{"rules": [}`, rules.ErrInvalidDefinition, "", "offset 12"},
		{"not an object", `[]`, rules.ErrInvalidDefinition, "", "JSON"},
		{"wrong type", `{"rules": [{"id": 1, "expr": "true"}]}`, rules.ErrInvalidDefinition, "", `field "rules.id"`},
		{"unknown field", `{"rules": [{"id": "a", "expr": "true", "prio": 1}]}`, rules.ErrInvalidDefinition, "", `unknown field "prio"`},
		{"unknown top field", `{"rulez": []}`, rules.ErrInvalidDefinition, "", "unknown field"},
		{"missing rules", `{}`, rules.ErrInvalidDefinition, "", "missing"},
		{"trailing data", `{"rules": []} {}`, rules.ErrInvalidDefinition, "", "trailing"},
		{"missing id", `{"rules": [{"expr": "true"}]}`, rules.ErrInvalidDefinition, "#0", "missing id"},
		{"control char id", `{"rules": [{"id": "a\u0001", "expr": "true"}]}`, rules.ErrInvalidDefinition, "a\x01", "control"},
		{"duplicate id", `{"rules": [{"id": "a", "expr": "true"}, {"id": "a", "expr": "false"}]}`, rules.ErrDuplicateID, "a", "duplicate"},
		{"nested duplicate", `{"rules": [{"id": "a", "all": [{"id": "a", "expr": "true"}]}]}`, rules.ErrDuplicateID, "a", "duplicate"},
		{"no body", `{"rules": [{"id": "a"}]}`, rules.ErrInvalidDefinition, "a", "exactly one"},
		{"two bodies", `{"rules": [{"id": "a", "expr": "true", "all": [{"expr": "true"}]}]}`, rules.ErrInvalidDefinition, "a", "exactly one"},
		{"nested priority", `{"rules": [{"id": "a", "all": [{"expr": "true", "priority": 3}]}]}`, rules.ErrInvalidDefinition, "a/all[0]", "top-level"},
		{"empty window", `{"rules": [{"id": "a", "expr": "true", "from": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}]}`, rules.ErrInvalidDefinition, "a", "window"},
		{"bad time", `{"rules": [{"id": "a", "expr": "true", "from": "yesterday"}]}`, rules.ErrInvalidDefinition, "", "JSON"},
		{"compile error", `{"rules": [{"id": "amount", "expr": "order.amout > dec(1)"}]}`, rules.ErrCompile, "amount", "1:6"},
		{"nested compile error", `{"rules": [{"id": "a", "any": [{"expr": "true"}, {"expr": "user.tier =="}]}]}`, rules.ErrCompile, "a/any[1]", "1:13"},
		{"not bool", `{"rules": [{"id": "total", "expr": "order.amount + dec(1)"}]}`, rules.ErrNotBool, "total", "want bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := env.LoadJSON([]byte(tt.json))
			require.Error(t, err)
			assert.Nil(t, set)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.contains)
			if tt.rule != "" {
				var de *rules.DefinitionError
				require.ErrorAs(t, err, &de)
				assert.Equal(t, tt.rule, de.Rule)
			}
		})
	}
}

func TestCompileErrorPositionThroughJSON(t *testing.T) {
	env := newEnv(t)
	_, err := env.LoadJSON([]byte(`{"rules": [{"id": "multi", "expr": "order.status == \"PAID\" &&\n  user.tierr == \"gold\""}]}`))
	var ce *rules.CompileError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "multi", ce.Rule)
	assert.Equal(t, 2, ce.Line)
	assert.Equal(t, 7, ce.Col)
	assert.Contains(t, ce.Msg, "tierr")
}

func TestLoadJSONRejectsDeepNesting(t *testing.T) {
	env := newEnv(t)
	doc := `{"expr": "true"}`
	for range 20 {
		doc = `{"not": ` + doc + `}`
	}
	_, err := env.LoadJSON([]byte(`{"rules": [{"id": "deep", "not": ` + doc + `}]}`))
	require.ErrorIs(t, err, rules.ErrInvalidDefinition)
	assert.Contains(t, err.Error(), "nested deeper")
}

func TestBuildFromDefinitions(t *testing.T) {
	env := newEnv(t)
	def, err := rules.FirstOrder().Definition("first")
	require.NoError(t, err)
	set, err := env.Build(def, rules.Definition{ID: "app", Expr: `order.channel == "app"`})
	require.NoError(t, err)
	assert.True(t, set.Evaluate(context.Background(), eligibleFacts()).Passed)
	_, err = rules.ShopIn().Definition("x")
	require.ErrorIs(t, err, rules.ErrInvalidParam)
}
