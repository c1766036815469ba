package dlp

import "testing"

// BenchmarkDetectInjection1MiB is a 1 MiB clean HTML page, the size the
// proxy buffers and scans whole (MaxInboundScan is larger).
func BenchmarkDetectInjection1MiB(b *testing.B) {
	page := htmlPage(b, 1<<20)
	if v := DetectInjection(page); v.Level != None {
		b.Fatalf("clean page flagged: %+v", v)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	c := cpuClock()
	for range b.N {
		DetectInjection(page)
	}
	reportCPU(b, c, len(page))
}
