// Package storagetest is the conformance suite that every storage adapter
// runs from its own tests, the way testing/fstest.TestFS checks any fs.FS:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, storagetest.Harness{
//			Open: func(t *testing.T) storagetest.Store { return newStore(t) },
//		})
//	}
//
// It holds the behaviour the domain packages rely on: transactions that
// nest, roll back as a whole and retry; idempotency that replays; an outbox
// that delivers in order per aggregate with several relays; leases held by
// one owner at a time; bounded counters without lost updates under many
// concurrent writers; and tenant isolation. Each domain adds its section.
// Third-party adapters can run it too.
package storagetest
