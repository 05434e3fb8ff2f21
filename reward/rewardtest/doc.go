// Package rewardtest holds the reward fixtures that more than one
// package's tests use: the ten campaigns and the order events of the
// Handle benchmarks, so that the memory and the SQL benchmarks measure
// the same workload. It imports no storage adapter, so that adapters'
// tests can import it. BenchmarkHandle in package reward and
// BenchmarkRewardHandlePostgres in storage/sqlstore show it in use.
package rewardtest
