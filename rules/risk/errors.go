package risk

import "errors"

// Sentinel errors. Every error this package returns for bad input is, or
// wraps, one of them; storage failures come through wrapped as the store
// returned them (storage.ErrLockTimeout, storage.ErrSerialization, ...).
var (
	// ErrInvalidConfig reports an engine configuration that misses a store
	// or holds an invalid policy (then ErrInvalidPolicy matches too).
	ErrInvalidConfig = errors.New("risk: invalid config")
	// ErrInvalidPolicy reports a malformed policy: no or a bad name, a
	// duplicate name, a limit below one, a window too short, an unknown
	// subject, an outcome that is not Review, Reject or Freeze.
	ErrInvalidPolicy = errors.New("risk: invalid policy")
	// ErrInvalidAction reports an action the engine cannot judge: no or a
	// bad kind, a value too long, a time before 1970, an amount in a
	// currency for which a threshold policy has no minimum.
	ErrInvalidAction = errors.New("risk: invalid action")
	// ErrInvalidEntry reports a malformed deny-list entry: unknown list, no
	// value, a value or reason too long, an expiry not after its creation.
	// It also matches storage.ErrInvalidArgument.
	ErrInvalidEntry = errors.New("risk: invalid deny-list entry")
	// ErrInvalidBucket reports a malformed velocity bucket handed to a
	// store: no key, a key too long, an end not after its start, a limit
	// below one. It also matches storage.ErrInvalidArgument.
	ErrInvalidBucket = errors.New("risk: invalid velocity bucket")
)
