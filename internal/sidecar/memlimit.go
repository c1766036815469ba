package sidecar

import (
	"runtime/debug"
)

// SoftMemoryLimit is the limit the sidecar (and egress serve) runs under
// when GOMEMLIMIT is not set. Measured on the egress benchmark (1 MiB
// responses then 64 KiB POSTs with DLP, concurrency 8): peak RSS 49.6 MB
// with no limit, 48.3 MB at 40 MiB, 40.7 MB at 28 MiB with no loss of
// throughput; 32 MiB leaves room for the other daemons' live heap (the
// limit counts Go's memory only, not the binary's pages).
const SoftMemoryLimit = 32 << 20

// SetSoftMemoryLimit gives the process a soft memory limit unless the
// user chose one with GOMEMLIMIT, and returns a func that puts the old
// limit back (for callers that run in a test process). Why: with Go's
// defaults (GOGC=100, no limit) the egress proxy under 64 KiB POST load
// let its heap grow to twice the live set and sat at ~51 MB resident, over
// the 50 MB budget a sidecar is given; a soft limit makes the GC run
// sooner instead. It is soft: a bigger live heap still works (the runtime
// caps the GC's CPU), it only costs more collections.
func SetSoftMemoryLimit(getenv func(string) string) (restore func()) {
	if getenv("GOMEMLIMIT") != "" {
		return func() {} // the runtime applied it at start
	}
	prev := debug.SetMemoryLimit(SoftMemoryLimit)
	return func() { debug.SetMemoryLimit(prev) }
}
