package cputime

import (
	"runtime"
	"testing"
	"time"
)

func TestNowCountsCPUAndFaults(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" || runtime.GOOS == "plan9" {
		t.Skip("no rusage here")
	}
	before := Now()
	// burn CPU for a while and touch fresh memory
	deadline := time.Now().Add(30 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	mem := make([]byte, 8<<20)
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = byte(i)
	}
	after := Now()
	if after.CPU-before.CPU < 10*time.Millisecond {
		t.Fatalf("CPU went from %v to %v across 30ms of spinning", before.CPU, after.CPU)
	}
	if after.Faults <= before.Faults {
		t.Fatalf("faults went from %d to %d across 8 MiB of fresh memory", before.Faults, after.Faults)
	}
	runtime.KeepAlive(mem)
	_ = x
}
