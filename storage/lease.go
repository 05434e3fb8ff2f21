package storage

import (
	"context"
	"time"
)

// Lease is the right to run one piece of background work (an expiry
// sweep, an outbox partition, a settlement cycle) until ExpiresAt. Token
// grows every time the lease changes hands, so work stamped with an old
// token can be recognised (a fencing token).
type Lease struct {
	Name      string
	Owner     string
	Token     int64
	ExpiresAt time.Time
}

// LeaseStore hands out leases. A lease is held by one owner at a time:
// AcquireLease succeeds when the lease is free, expired at now, or already
// held by owner (then it is renewed and keeps its token). Leases are
// global across tenants: background work usually spans them.
type LeaseStore interface {
	// AcquireLease returns the lease and true when owner now holds it, or
	// the current holder's lease and false.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (Lease, bool, error)
	// ReleaseLease gives the lease up if owner holds it; otherwise it does
	// nothing.
	ReleaseLease(ctx context.Context, name, owner string) error
}
