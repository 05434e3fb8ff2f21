package fsmtable

import (
	"context"

	"github.com/looplab/fsm"
)

// Table maps a state and an event name to the state the event leads to.
// It is never written after Build returns, so goroutines may share it.
type Table[S ~string] map[Step[S]]S

// Step is one event fired from one state.
type Step[S ~string] struct {
	From  S
	Event string
}

// Build fires every event of events from every state of states on a
// fresh FSM and records where each allowed one leads. An event the FSM
// refuses from a state (InvalidEventError) and a self-transition
// (NoTransitionError) are left out: a command must move its aggregate to
// the state it names.
func Build[S ~string](states []S, events fsm.Events) Table[S] {
	t := Table[S]{}
	for _, from := range states {
		for _, e := range events {
			if to, ok := Fire(from, events, e.Name); ok {
				t[Step[S]{from, e.Name}] = to
			}
		}
	}
	return t
}

// Fire fires event on a short-lived FSM built at from, as a reference for
// the table (and for tests). It reports where the event leads, or false
// when the FSM refuses it or it leads nowhere. The FSM runs no callbacks,
// so a background context suffices, and a caller's cancelled ctx cannot
// leave it stuck in transition (looplab/fsm issue #115); it is dropped
// after the call, as an fsm instance must not be reused.
func Fire[S ~string](from S, events fsm.Events, event string) (S, bool) {
	m := fsm.NewFSM(string(from), events, nil)
	if err := m.Event(context.Background(), event); err != nil {
		return from, false
	}
	return S(m.Current()), true
}

// Next returns where event leads from from, if the table allows it.
func (t Table[S]) Next(from S, event string) (S, bool) {
	to, ok := t[Step[S]{from, event}]
	return to, ok
}
