package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/cli"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

// TestCommitThenResume drives the commands as a user would: start --keep,
// stop, commit, resume (which boots the committed image and finds the
// agent's file), cleanup.
func TestCommitThenResume(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle", "bottles", "plain.md"), "---\negress:\n  routes: []\n---\nNothing out.\n")
	writeFile(t, filepath.Join(home, ".bot-bottle", "agents", "keeper.md"), "---\nbottle: plain\n---\nKeeps things.\n")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := cli.Run(context.Background(), args, cli.Env{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
			Getenv: func(k string) string {
				if k == "BOT_BOTTLE_SIDECAR_BINARY" {
					return e.bin
				}
				return ""
			},
			Environ: func() []string { return nil },
			Home:    home, Cwd: home,
		})
		return out.String(), errOut.String(), code
	}

	out, errOut, code := run("start", "keeper", "--keep", "--label", "commit test", "--headless", "--prompt", "echo kept > /workspace/kept.txt")
	if code != 0 {
		t.Fatalf("start: exit %d\n%s%s", code, out, errOut)
	}
	dirs, err := lifecycle.StateDirs(filepath.Join(home, ".bot-bottle", "state"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("state dirs: %v %v", dirs, err)
	}
	var slug string
	for s := range dirs {
		slug = s
	}
	t.Cleanup(func() { e.be.Remove(context.Background(), slug) })

	out, _, _ = run("list", "--json")
	var rows []struct {
		Slug, State, Label string
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	listed := false
	for _, r := range rows {
		if r.Slug == slug {
			listed = r.State == "running" && r.Label == "commit test"
		}
	}
	if !listed {
		t.Errorf("list does not show %s running with its label:\n%s", slug, out)
	}

	if _, errOut, code := run("resume", slug, "--fresh-workspace", "--headless", "--prompt", "true"); code != 1 || !strings.Contains(errOut, "is running") {
		t.Errorf("resume of a running bottle: exit %d, %s", code, errOut)
	}
	if _, errOut, code := run("stop", slug); code != 0 {
		t.Fatalf("stop: %d %s", code, errOut)
	}
	out, errOut, code = run("commit", slug)
	if code != 0 {
		t.Fatalf("commit: %d %s", code, errOut)
	}
	image := strings.TrimSpace(out)
	t.Cleanup(func() { e.eng.ImageRemove(context.Background(), image, client.ImageRemoveOptions{Force: true}) })
	if m, err := lifecycle.ReadMetadata(dirs[slug]); err != nil || m.Image != image {
		t.Errorf("metadata after commit: %+v %v (want image %s)", m, err, image)
	}

	out, errOut, code = run("resume", slug, "--headless", "--prompt", "cat /workspace/kept.txt")
	if code != 0 || out != "kept\n" {
		t.Errorf("resume: exit %d, output %q\n%s", code, out, errOut)
	}

	if _, errOut, code := run("cleanup"); code != 0 {
		t.Fatalf("cleanup: %d %s", code, errOut)
	}
	if list, _ := e.be.List(context.Background()); hasSlug(list, slug) {
		t.Errorf("%s left on the engine after cleanup", slug)
	}
	if d, _ := lifecycle.StateDirs(filepath.Join(home, ".bot-bottle", "state")); len(d) != 0 {
		t.Errorf("state left after cleanup: %v", d)
	}
	if _, _, code := run("stop", slug); code != 1 {
		t.Errorf("stop of a removed bottle: exit %d, want 1", code)
	}
}
