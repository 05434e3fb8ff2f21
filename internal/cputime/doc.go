// Package cputime reads this process's CPU time and page faults, so that
// benchmarks on a shared, noisy machine can report what one operation
// costs rather than how long it waited for a core.
//
// Page faults are reported beside the CPU because on the virtual machines
// we measure on the first touch of a fresh page costs about 12 µs: the
// memory an operation leaves behind (a growing store) and the heap the
// garbage collector grows to hold it can then cost more than the
// operation's instructions.
//
// It is for the project's benchmarks only; BenchmarkTransfer in package
// ledger shows it in use.
package cputime
