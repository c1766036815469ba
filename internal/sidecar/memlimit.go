package sidecar

import (
	"runtime/debug"
)

// SoftMemoryLimit is the heap limit the sidecar (and egress serve) runs
// under when GOMEMLIMIT is not set.
const SoftMemoryLimit = 40 << 20

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
