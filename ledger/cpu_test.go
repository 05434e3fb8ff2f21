package ledger_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the process's CPU time (user plus system), so that
// benchmarks on a shared, loaded machine can report what one operation
// costs rather than how long it waited for a core.
// It also counts page faults: on the VMs we measure on, the first touch
// of a page costs tens of microseconds, so the fresh memory an operation
// needs can weigh more than its instructions.
type cpuClock struct {
	start  time.Duration
	faults int64
}

func cpuNow() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt + ru.Majflt
}

func startCPU() cpuClock {
	d, f := cpuNow()
	return cpuClock{d, f}
}

// report adds cpu-ns/op, page faults per op and ops per CPU second.
func (c cpuClock) report(b *testing.B, ops int, unit string) {
	now, faults := cpuNow()
	d := now - c.start
	if d <= 0 || ops == 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(faults-c.faults)/float64(b.N), "faults/op")
	b.ReportMetric(float64(ops)/d.Seconds(), unit+"/cpu-s")
}
