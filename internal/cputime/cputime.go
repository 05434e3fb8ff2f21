package cputime

import (
	"testing"
	"time"
)

// Sample is the process's CPU time (user plus system) and its page
// faults (minor and major) at one moment. Where the platform cannot tell,
// both are zero.
type Sample struct {
	CPU    time.Duration
	Faults int64
}

// Now reads the process's sample.
func Now() Sample { return now() }

// Report adds to b, for the b.N operations since s: cpu-ns/op and
// faults/op, and units/cpu-s, how many units (ops in all: a batch
// operation may carry many) a second of CPU does, the rate the process
// would reach with every core to itself. It adds nothing where the
// platform cannot tell.
func Report(b *testing.B, since Sample, ops int, unit string) {
	n := Now()
	d := n.CPU - since.CPU
	if d <= 0 || b.N == 0 || ops == 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(n.Faults-since.Faults)/float64(b.N), "faults/op")
	b.ReportMetric(float64(ops)/d.Seconds(), unit+"/cpu-s")
}
