//go:build race

package testenv

// Race reports whether the race detector is on: tests that move hundreds
// of megabytes run in the suite's stage without it.
const Race = true
