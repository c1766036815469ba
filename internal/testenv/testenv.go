// Package testenv lets a test skip when a real part it needs (sshd, Docker,
// tmux, ...) is missing, except in CI: BOT_BOTTLE_REQUIRE_ALL=1 turns the
// skip into a failure, so a CI run cannot pass with nothing tested.
package testenv

import (
	"os"
	"testing"
)

// Require skips (or, with BOT_BOTTLE_REQUIRE_ALL=1, fails) t unless ok.
// name is the missing part, why what it was needed for.
func Require(t testing.TB, name string, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("BOT_BOTTLE_REQUIRE_ALL") == "1" {
		t.Fatalf("%s is required (%s) and BOT_BOTTLE_REQUIRE_ALL=1", name, why)
	}
	t.Skipf("%s not available: %s (set BOT_BOTTLE_REQUIRE_ALL=1 to fail instead)", name, why)
}
