// Package uuid7 makes the default IDs of rewardkit's services: UUIDv7s
// (time-ordered, so that database indexes on them grow at one end),
// increasing within one Source, without a process-wide lock or an
// allocation per ID. See Source.
package uuid7
