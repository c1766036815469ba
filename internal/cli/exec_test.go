package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// ownerBackend lists one running bottle whose state is another user's.
type ownerBackend struct{ backend.Backend }

func (ownerBackend) List(context.Context) ([]backend.Summary, error) {
	return []backend.Summary{{Slug: "impl-k3x9q", State: "running", StateDir: "/home/someone-else/.bot-bottle/state/impl-k3x9q"}}, nil
}

// TestExecRefusesAnotherUsersBottle: on a shared engine exec, like list
// and rm, keeps to the caller's own bottles.
func TestExecRefusesAnotherUsersBottle(t *testing.T) {
	err := needRunning(context.Background(), ownerBackend{}, "impl-k3x9q", filepath.Join(t.TempDir(), ".bot-bottle", "state"))
	if err == nil || !strings.Contains(err.Error(), "is not yours") || exitCode(err) != 1 {
		t.Errorf("exec into another user's bottle: %v (exit %d)", err, exitCode(err))
	}
}
