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
// Nothing survives the process. For data that must, use storage/sqlstore
// with SQLite (embedded) or PostgreSQL (shared by many host instances).
package memory
