package e2e

import (
	"strings"
	"testing"
)

// TestStartTimings: start --timings prints, when the start ends, a row for
// every phase of a real start on the engine: the engine checks, the
// networks, the sidecar's and the agent's containers, the wait for the
// sidecar, the attestation and its wait, and the agent's first output.
func TestStartTimings(t *testing.T) {
	e := setup(t)
	stdout, stderr, rc := runBottleBottle(t, e, t.TempDir(), "start", "--rm", "--headless", "--timings", "--prompt", "echo from-the-agent")
	if rc != 0 || stdout != "from-the-agent\n" {
		t.Fatalf("start --timings: exit %d, stdout %q\n%s", rc, stdout, stderr)
	}
	_, table, ok := strings.Cut(stderr, "timings (")
	if !ok {
		t.Fatalf("no timings table on stderr:\n%s", stderr)
	}
	for _, phase := range []string{
		"preparing state and the CA", "checking the engine", "preparing images", "creating the networks",
		"creating the sidecar", "starting the sidecar", "adding the sidecar's user",
		"creating the agent", "starting the agent", "installing the bottle CA", "waiting for the sidecar",
		"attestation, in all", "attestation: waiting for the verdict",
		"the agent's command, to its first output", "to the agent's first output:",
	} {
		if !strings.Contains(table, phase) {
			t.Errorf("the timings lack %q:\n%s", phase, table)
		}
	}
	if strings.Contains(table, "unfinished") {
		t.Errorf("a phase never ended:\n%s", table)
	}
	t.Logf("timings (%s", table)
}
