package lifecycle

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/oplock"
)

// TestPrepareWaitsForTheOperatorLock: a new run's rewrite of the live
// policy waits while an operator's decision or sweep holds the bottle's
// lock, so neither writes back what the other just removed.
func TestPrepareWaitsForTheOperatorLock(t *testing.T) {
	p := testPlan(t)
	unlock, err := oplock.Lock(hoststate.Bottle(p.StateDir).OperatorLock())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Prepare(p, nil) }()
	policy := filepath.Join(p.StateDir, "egress", "policy.yaml")
	select {
	case err := <-done:
		t.Fatalf("Prepare finished (%v) while the operator held the lock", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := os.Stat(policy); err == nil {
		t.Fatal("policy.yaml was written while the operator held the lock")
	}
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // a bound, not a measurement
		t.Fatal("Prepare never finished after the lock was released")
	}
	if _, err := os.Stat(policy); err != nil {
		t.Fatal(err)
	}
}
