package settlement

import (
	"sync"

	"github.com/rewardkit/rewardkit/storage"
)

// DefaultRecentOrders is Config.RecentOrders' default.
const DefaultRecentOrders = 1024

// recentOrders keeps copies of the orders this Service created, until
// Pay takes them, so that a payment arriving at the instance that took
// the order needs no read of it: the memory store decodes an order on
// every read, a database store makes a round trip. A copy is only ever a
// read that may be stale, which Pay already allows for: the payment's
// first write is conditional on the version read, and an order changed
// meanwhile fails it and is read again inside the transaction.
//
// It holds at most size orders; the oldest goes first. Orders paid on
// another instance (or never) are dropped that way.
type recentOrders struct {
	mu   sync.Mutex
	size int
	m    map[orderKey]recentOrder
	ring []recentSlot // in insertion order, from next; may name orders taken since
	next int          // the ring's oldest slot, once it is full
	seq  uint64       // of the last put
}

// recentSlot is one put: its key and its sequence number, which tells the
// entry it made from a later put of the same key.
type recentSlot struct {
	k   orderKey
	seq uint64
}

type orderKey struct {
	tenant storage.TenantID
	id     string
}

type recentOrder struct {
	o   Order
	seq uint64 // of the put that made it
}

// newRecentOrders returns a cache of up to size orders; nil for size <= 0
// (its methods then keep and find nothing).
func newRecentOrders(size int) *recentOrders {
	if size <= 0 {
		return nil
	}
	return &recentOrders{size: size, m: make(map[orderKey]recentOrder)}
}

// put keeps o, which the caller hands over and no longer writes.
func (r *recentOrders) put(o Order) {
	if r == nil {
		return
	}
	k := orderKey{o.Tenant, o.ID}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	slot := recentSlot{k, r.seq}
	if len(r.ring) < r.size {
		r.ring = append(r.ring, slot)
	} else {
		// the oldest put goes, unless its key was put again since
		old := r.ring[r.next]
		if e, ok := r.m[old.k]; ok && e.seq == old.seq {
			delete(r.m, old.k)
		}
		r.ring[r.next] = slot
		r.next = (r.next + 1) % r.size
	}
	r.m[k] = recentOrder{o: o, seq: r.seq}
}

// take removes and returns the order kept under tenant and id: the
// caller owns it.
func (r *recentOrders) take(tenant storage.TenantID, id string) (Order, bool) {
	if r == nil {
		return Order{}, false
	}
	k := orderKey{tenant, id}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[k]
	if ok {
		delete(r.m, k)
	}
	return e.o, ok
}
