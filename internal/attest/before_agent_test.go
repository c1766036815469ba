package attest

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// leakyBackend is a backend whose "agent" is this process: nothing walls
// it in, so the host listener probe gets through.
type leakyBackend struct {
	*fakeRunner
	targets backend.Targets
}

func (b leakyBackend) Targets(context.Context, string) (backend.Targets, error) {
	return b.targets, nil
}

// TestBeforeAgentRefusesALeak: start's check returns the leak error when a
// probe gets out, so the agent never gets the bottle.
func TestBeforeAgentRefusesALeak(t *testing.T) {
	host := hostAddr(t)
	be := leakyBackend{fakeRunner: &fakeRunner{local: host}, targets: backend.Targets{HostAddrs: []netip.Addr{host}}}
	bin := filepath.Join(t.TempDir(), "bot-bottle")
	os.WriteFile(bin, []byte("#!binary"), 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := BeforeAgent(ctx, be, "x-abcde", Options{Binary: bin, Phase: "start", Timeout: 300 * time.Millisecond})
	var le *LeakError
	if !errors.As(err, &le) {
		t.Fatalf("BeforeAgent with a leaking probe = %v, want a *LeakError", err)
	}
}
