// Package pgtest gives tests a fresh PostgreSQL database.
//
// DSN returns the DSN of a new, empty database for each call. When
// REWARDKIT_POSTGRES_DSN is set, the databases are created on that server;
// otherwise pgtest starts one throwaway cluster per test binary from the
// machine's PostgreSQL binaries (initdb and pg_ctl on PATH or under
// /usr/lib/postgresql/*/bin), listening only on a unix socket in a
// temporary directory, and Main stops it after the tests:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.DSN(t) // skips when PostgreSQL is absent
//		...
//	}
//
// Where PostgreSQL is absent the test is skipped with the reason logged,
// unless REWARDKIT_REQUIRE_POSTGRES=1, where it fails. Without Main, each
// test that calls DSN gets a cluster of its own, stopped at its cleanup.
//
// The cluster is the one piece of package-level state in the repository:
// a test binary has one, shared by its tests.
package pgtest
