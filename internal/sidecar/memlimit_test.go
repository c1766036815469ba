package sidecar

import (
	"runtime/debug"
	"testing"
)

func TestSetSoftMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	restore := SetSoftMemoryLimit(func(string) string { return "" })
	if got := debug.SetMemoryLimit(-1); got != SoftMemoryLimit {
		t.Fatalf("GOMEMLIMIT unset: limit %d, want %d", got, SoftMemoryLimit)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Fatalf("after restore: limit %d, want %d", got, prev)
	}
	SetSoftMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] })()
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Fatalf("GOMEMLIMIT set: limit changed to %d", got)
	}
}
