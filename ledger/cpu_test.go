package ledger_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the process's CPU time (user plus system), so that
// benchmarks on a shared, loaded machine can report what one operation
// costs rather than how long it waited for a core.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{cpuNow()} }

// report adds cpu-ns/op and, with perOp > 0, ops per CPU second.
func (c cpuClock) report(b *testing.B, ops int, unit string) {
	d := cpuNow() - c.start
	if d <= 0 || ops == 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(ops)/d.Seconds(), unit+"/cpu-s")
}
