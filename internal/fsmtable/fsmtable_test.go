package fsmtable_test

import (
	"testing"

	"github.com/looplab/fsm"
	"github.com/stretchr/testify/assert"

	"github.com/rewardkit/rewardkit/internal/fsmtable"
)

type light string

func TestBuild(t *testing.T) {
	events := fsm.Events{
		{Name: "go", Src: []string{"red"}, Dst: "green"},
		{Name: "stop", Src: []string{"green", "amber"}, Dst: "red"},
		{Name: "stay", Src: []string{"red"}, Dst: "red"}, // a self-transition
	}
	table := fsmtable.Build([]light{"red", "green", "amber"}, events)
	assert.Len(t, table, 3, "go from red, stop from green and amber")
	to, ok := table.Next("red", "go")
	assert.True(t, ok)
	assert.Equal(t, light("green"), to)
	to, ok = table.Next("amber", "stop")
	assert.True(t, ok)
	assert.Equal(t, light("red"), to)
	_, ok = table.Next("green", "go")
	assert.False(t, ok, "not declared from green")
	_, ok = table.Next("red", "stay")
	assert.False(t, ok, "a self-transition moves nothing")
	for step, want := range table {
		got, ok := fsmtable.Fire(step.From, events, step.Event)
		assert.True(t, ok)
		assert.Equal(t, want, got)
	}
}
