// Package memory is the in-process storage adapter: the zero-configuration
// default for examples, tests and single-process hosts.
//
// A Store keeps everything in maps guarded by one lock. A transaction holds
// the lock from its start to its end, so transactions are serializable by
// construction; writes are recorded in an undo log and rolled back in
// reverse order when the unit of work fails. A store call made with a
// context from outside the open transaction waits at most Options.LockWait
// and then fails with storage.ErrLockTimeout instead of hanging.
//
// A goroutine that finds the lock held spins for it up to 100µs (at most
// GOMAXPROCS-1 goroutines at once) before it parks. A transaction holds
// the lock for microseconds, while a parked goroutine can wait far
// longer to run again once woken: on small virtual machines, 100-250µs
// for its idle virtual CPU, during which the lock's holder runs alone.
// Spinning is what lets a checkout scale past one core there.
//
// Records are kept compactly, mostly without pointers, and their text
// (IDs, encoded orders, outbox payloads) back to back in large chunks. On
// Linux, once a store's text passes 1 MiB, its further chunks are mapped
// outside the Go heap, in transparent huge pages where the kernel allows:
// text kept there does not raise the heap's GOGC target, so the garbage
// of later requests reuses pages already touched instead of faulting in
// fresh ones. The chunks are unmapped when the store is collected. The
// runtime does not count them: leave room for them beside GOMEMLIMIT.
//
// Nothing survives the process. For data that must, use storage/sqlstore
// with SQLite (embedded) or PostgreSQL (shared by many host instances).
package memory
