package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

func TestJoinRows(t *testing.T) {
	root := t.TempDir()
	saved := filepath.Join(root, "impl-saved")
	kept := filepath.Join(root, "impl-kept")
	running := filepath.Join(root, "impl-run")
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []string{saved, kept, running} {
		if err := lifecycle.WriteMetadata(d, lifecycle.Metadata{Slug: filepath.Base(d), Agent: "impl", Label: "from metadata", Created: created, Image: "img:" + filepath.Base(d)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(kept, lifecycle.PreserveFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dirs, err := lifecycle.StateDirs(root)
	if err != nil {
		t.Fatal(err)
	}
	later := created.Add(time.Hour)
	got := joinRows([]backend.Summary{
		{Slug: "impl-run", Agent: "impl", Label: "live", State: "running", Sidecar: "running", Created: later},
		{Slug: "orphan-x", State: "missing", Sidecar: "exited"},
	}, dirs)
	want := []bottleRow{
		{Slug: "impl-run", Agent: "impl", Label: "live", State: "running", Sidecar: "running", Created: later, Committed: "img:impl-run", StateDir: running},
		{Slug: "impl-kept", Agent: "impl", Label: "from metadata", State: "saved", Sidecar: "missing", Created: created, Committed: "img:impl-kept", StateDir: kept, Preserved: true},
		{Slug: "impl-saved", Agent: "impl", Label: "from metadata", State: "saved", Sidecar: "missing", Created: created, Committed: "img:impl-saved", StateDir: saved},
		{Slug: "orphan-x", State: "missing", Sidecar: "exited"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestListWithoutEngineShowsSavedState(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".bot-bottle", "state", "impl-abcde")
	if err := lifecycle.WriteMetadata(dir, lifecycle.Metadata{Slug: "impl-abcde", Agent: "impl", Label: "saved one"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(home, "no-such.sock"))
	noPodman := []string{"CONTAINER_HOST=unix://" + filepath.Join(home, "no-such-podman.sock")}
	out, errOut, code := execCLI(t, home, home, noPodman, "list")
	if code != 0 || !strings.Contains(out, "impl-abcde") || !strings.Contains(out, "saved") || !strings.Contains(errOut, "showing saved state only") {
		t.Errorf("list without an engine: code %d\n%s\n%s", code, out, errOut)
	}
	// cleanup must not remove state it cannot check is not running.
	if _, _, code := execCLI(t, home, home, noPodman, "cleanup"); code == 0 {
		t.Error("cleanup without an engine succeeded")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("cleanup without an engine removed state: %v", err)
	}
}

// TestListShowsOnlyYourBottles: on a shared engine a bottle whose state
// lives under another home is hidden unless --all, and carries an owner.
func TestListShowsOnlyYourBottles(t *testing.T) {
	root, elsewhere := t.TempDir(), t.TempDir()
	rows := []bottleRow{
		{Slug: "mine-a", StateDir: filepath.Join(root, "mine-a")},
		{Slug: "theirs-b", StateDir: filepath.Join(elsewhere, "theirs-b")},
		{Slug: "orphan-c"},
	}
	got, hidden := ownedRows(rows, root, false)
	if hidden != 1 || len(got) != 2 || got[0].Slug != "mine-a" || got[1].Slug != "orphan-c" {
		t.Fatalf("without --all: %d hidden, rows %+v", hidden, got)
	}
	if got[0].Owner == "" || got[1].Owner != "" {
		t.Errorf("owners %q %q", got[0].Owner, got[1].Owner)
	}
	got, hidden = ownedRows(rows, root, true)
	if hidden != 0 || len(got) != 3 || got[1].Owner != "another user" {
		t.Errorf("with --all: %d hidden, rows %+v", hidden, got)
	}
}
