package settlement

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rewardkit/rewardkit/storage"
)

// The cache keeps the newest orders up to its size, hands each out once,
// and an entry made again after its first was taken outlives the ring
// slot of the first.
func TestRecentOrders(t *testing.T) {
	const tenant storage.TenantID = "t1"
	order := func(id string, v int64) Order { return Order{Tenant: tenant, ID: id, Version: v} }
	got := func(r *recentOrders, id string) (int64, bool) {
		o, ok := r.take(tenant, id)
		return o.Version, ok
	}

	r := newRecentOrders(2)
	r.put(order("a", 1))
	r.put(order("b", 1))
	r.put(order("c", 1)) // a goes
	_, ok := got(r, "a")
	assert.False(t, ok, "the oldest is dropped past the size")
	v, ok := got(r, "b")
	assert.True(t, ok)
	assert.Equal(t, int64(1), v)
	_, ok = got(r, "b")
	assert.False(t, ok, "taken once")

	r.put(order("c", 2)) // c again, in b's slot; c's first slot is next to go
	r.put(order("d", 1)) // overwrites c's first slot: the newer c stays
	v, ok = got(r, "c")
	assert.True(t, ok, "the newer entry of c survives its older slot")
	assert.Equal(t, int64(2), v)
	v, ok = got(r, "d")
	assert.True(t, ok)
	assert.Equal(t, int64(1), v)
	_, ok = r.take("t2", "d")
	assert.False(t, ok, "keys are per tenant")

	var none *recentOrders = newRecentOrders(-1)
	assert.Nil(t, none)
	none.put(order("a", 1))
	_, ok = got(none, "a")
	assert.False(t, ok, "a nil cache keeps nothing")
}
