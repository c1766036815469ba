// Package testenv lets a test that needs an outside part (Docker, sshd,
// tmux...) skip where that part is missing, and fail instead when
// BOT_BOTTLE_REQUIRE_ALL=1 (CI), so CI cannot pass with nothing tested.
package testenv

import (
	"os"
	"testing"
)

// Require skips t (or fails it under BOT_BOTTLE_REQUIRE_ALL=1) when ok is
// false. name is the missing part, why what was found.
func Require(t testing.TB, name string, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("BOT_BOTTLE_REQUIRE_ALL") == "1" {
		t.Fatalf("%s required (BOT_BOTTLE_REQUIRE_ALL=1): %s", name, why)
	}
	t.Skipf("%s not available: %s", name, why)
}
