package storage

import "context"

// Bounds limits a counter. A nil bound is open.
type Bounds struct {
	Min *int64
	Max *int64
}

// AtMost returns Bounds with only an upper limit.
func AtMost(n int64) Bounds { return Bounds{Max: &n} }

// AtLeast returns Bounds with only a lower limit.
func AtLeast(n int64) Bounds { return Bounds{Min: &n} }

// Within reports whether v lies inside the bounds.
func (b Bounds) Within(v int64) bool {
	return (b.Min == nil || v >= *b.Min) && (b.Max == nil || v <= *b.Max)
}

// CounterStore keeps named integer counters per tenant, changed atomically
// with a bound: the primitive behind stock, per-user caps and velocity
// limits. A counter that was never written reads as zero.
type CounterStore interface {
	// AddCounter adds delta to the counter if the result stays within
	// bounds, as one conditional write (no read-then-write race across host
	// instances). It returns the counter's value after the call and whether
	// the delta was applied; a refused delta changes nothing.
	AddCounter(ctx context.Context, tenant TenantID, key string, delta int64, bounds Bounds) (value int64, applied bool, err error)
	// Counter returns the counter's value.
	Counter(ctx context.Context, tenant TenantID, key string) (int64, error)
}
