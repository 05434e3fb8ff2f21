package coupon

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/internal/fsmtable"
)

// next fires ev on a short-lived FSM built from the stored state and
// returns the new state, or a *TransitionError. frozenFrom picks the way
// out of FROZEN. It is the reference the Service's lifecycle table is
// checked against; commands use the table.
func next(couponID string, from State, frozenFrom State, ev Event) (State, error) {
	name, ok := fsmName(ev, frozenFrom)
	if ok {
		if to, ok := fsmtable.Fire(from, transitions, name); ok {
			return to, nil
		}
	}
	return from, &TransitionError{CouponID: couponID, From: from, Event: ev}
}

// The whole lifecycle as a table: every (state, event) pair is either a
// legal transition with its destination, or refused with a typed error.
func TestLifecycleTable(t *testing.T) {
	legal := map[State]map[Event]State{
		StateUnactivated: {EventClaim: StateActivated, EventActivate: StateActivated},
		StateActivated:   {EventLock: StateLocked, EventFreeze: StateFrozen, EventExpire: StateExpired, EventDeplete: StateUsed},
		StateLocked:      {EventUse: StateUsed, EventRelease: StateActivated, EventFreeze: StateFrozen},
		StateFrozen:      {EventUnfreeze: StateActivated}, // frozen from ACTIVATED; see below for LOCKED
		StateUsed:        {EventRefund: StateRefunded, EventReplenish: StateActivated},
		StateRefunded:    {EventRestore: StateActivated},
		StateExpired:     {},
	}
	n := 0
	for _, from := range States() {
		for _, ev := range Events() {
			t.Run(fmt.Sprintf("%s/%s", from, ev), func(t *testing.T) {
				frozenFrom := State("")
				if from == StateFrozen {
					frozenFrom = StateActivated
				}
				to, err := next("c1", from, frozenFrom, ev)
				want, ok := legal[from][ev]
				if ok {
					require.NoError(t, err)
					assert.Equal(t, want, to)
					return
				}
				var te *TransitionError
				require.ErrorAs(t, err, &te)
				assert.ErrorIs(t, err, ErrIllegalTransition)
				assert.Equal(t, from, te.From)
				assert.Equal(t, ev, te.Event)
				assert.Equal(t, from, to, "a refused event leaves the state")
			})
			n++
		}
	}
	assert.Equal(t, len(States())*len(Events()), n)
}

func TestUnfreezeReturnsToFrozenFrom(t *testing.T) {
	to, err := next("c1", StateFrozen, StateLocked, EventUnfreeze)
	require.NoError(t, err)
	assert.Equal(t, StateLocked, to)
	to, err = next("c1", StateFrozen, StateActivated, EventUnfreeze)
	require.NoError(t, err)
	assert.Equal(t, StateActivated, to)
	// the internal event name cannot be fired from outside
	_, err = next("c1", StateFrozen, StateLocked, Event(unfreezeLocked))
	require.ErrorIs(t, err, ErrIllegalTransition)
	_, err = next("c1", StateActivated, "", Event("bogus"))
	require.ErrorIs(t, err, ErrIllegalTransition)
}

func TestTransitionErrorMatchesStateSentinel(t *testing.T) {
	cases := map[State]error{StateLocked: ErrLocked, StateFrozen: ErrFrozen, StateUsed: ErrUsed, StateExpired: ErrExpired}
	for st, sentinel := range cases {
		_, err := next("c1", st, StateActivated, EventLock)
		require.ErrorIs(t, err, sentinel, st)
		for other, s2 := range cases {
			if other != st {
				assert.False(t, errors.Is(err, s2), "%s error must not match %v", st, s2)
			}
		}
	}
	assert.True(t, State("USED").Valid())
	assert.False(t, State("used").Valid())
}

func BenchmarkTransition(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := next("c1", StateActivated, "", EventLock); err != nil {
			b.Fatal(err)
		}
	}
}

// The Service's table, read once from the fsm declaration, answers every
// (state, frozen-from, event) exactly as a fresh FSM per call does.
func TestLifecycleTableMatchesFSM(t *testing.T) {
	life := newLifecycle()
	evs := append(Events(), Event(unfreezeLocked), Event("bogus"))
	for _, from := range append(States(), State("nonsense")) {
		for _, frozenFrom := range []State{"", StateActivated, StateLocked} {
			for _, ev := range evs {
				want, wantErr := next("c1", from, frozenFrom, ev)
				got, gotErr := life.next("c1", from, frozenFrom, ev)
				assert.Equal(t, want, got, "%s %s %s", from, frozenFrom, ev)
				assert.Equal(t, wantErr, gotErr, "%s %s %s", from, frozenFrom, ev)
			}
		}
	}
}

func BenchmarkTransitionTable(b *testing.B) {
	life := newLifecycle()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := life.next("c1", StateActivated, "", EventLock); err != nil {
			b.Fatal(err)
		}
	}
}
