package dlp

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock reports the process's user+system CPU time. Benchmarks report
// MB per CPU-second too, because on a shared machine wall-clock MB/s
// mostly measures the neighbours.
func cpuClock() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-MB/s metric for b.N operations of n bytes each,
// measured since start.
func reportCPU(b *testing.B, start time.Duration, n int) {
	b.StopTimer()
	if d := cpuClock() - start; d > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/d.Seconds()/1e6, "cpu-MB/s")
	}
}
