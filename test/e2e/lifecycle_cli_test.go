package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// onlySlug is the one bottle state under home.
func onlySlug(t *testing.T, home string) string {
	t.Helper()
	dirs, err := lifecycle.StateDirs(filepath.Join(home, ".bot-bottle", "state"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("state dirs: %v %v", dirs, err)
	}
	for s := range dirs {
		return s
	}
	return ""
}

// engineHas reports whether the engine has any part of a bottle whose
// state is under home.
func engineHas(t *testing.T, e env, home string) []string {
	t.Helper()
	list, err := e.be.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range list {
		if strings.HasPrefix(s.StateDir, home) {
			out = append(out, s.Slug)
		}
	}
	return out
}

// TestStartRmLeavesNothing: start --rm leaves no container, network or
// state, whether the agent succeeds or fails.
func TestStartRmLeavesNothing(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	for _, tc := range []struct {
		prompt string
		rc     int
	}{{"echo from-a-throwaway", 0}, {"exit 3", 1}} {
		stdout, stderr, rc := runBottleBottle(t, e, home, "start", "--rm", "--headless", "--prompt", tc.prompt)
		if rc != tc.rc || tc.rc == 0 && stdout != "from-a-throwaway\n" {
			t.Fatalf("start --rm %q: exit %d (want %d), stdout %q\n%s", tc.prompt, rc, tc.rc, stdout, stderr)
		}
		if !strings.Contains(stderr, "and its state (--rm)") {
			t.Errorf("start --rm did not say it removes the state:\n%s", stderr)
		}
		if d, _ := lifecycle.StateDirs(filepath.Join(home, ".bot-bottle", "state")); len(d) != 0 {
			t.Errorf("start --rm %q left state: %v", tc.prompt, d)
		}
		if left := engineHas(t, e, home); len(left) != 0 {
			t.Errorf("start --rm %q left bottles on the engine: %v", tc.prompt, left)
		}
	}
}

// TestExecThenRm: exec runs in a running bottle as the agent's user with
// the agent's proxy, says so when the bottle is stopped, and rm removes
// the bottle's containers, networks, state and commit, keeping nothing
// but what it promises (a running bottle is refused without --force).
func TestExecThenRm(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	if stdout, stderr, rc := runBottleBottle(t, e, home, "start", "--keep", "--headless", "--prompt", "echo work > /workspace/w.txt"); rc != 0 {
		t.Fatalf("start --keep: exit %d %s%s", rc, stdout, stderr)
	}
	slug := onlySlug(t, home)
	t.Cleanup(func() { e.be.Remove(context.Background(), slug) })

	stdout, stderr, rc := runBottleBottle(t, e, home, "exec", slug, "sh", "-c", `id -un; pwd; echo "$HTTPS_PROXY"; cat /workspace/w.txt`)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if rc != 0 || len(lines) != 4 || lines[0] == "root" || lines[1] != "/workspace" || !strings.HasPrefix(lines[2], "http://") || lines[3] != "work" {
		t.Errorf("exec: exit %d, want the agent's user, /workspace, its proxy, its file; got:\n%s%s", rc, stdout, stderr)
	}
	if _, stderr, rc := runBottleBottle(t, e, home, "exec", slug, "--", "sh", "-c", "exit 4"); rc != 1 || !strings.Contains(stderr, "exited with status 4") {
		t.Errorf("exec of a failing command: exit %d %s", rc, stderr)
	}
	if _, stderr, rc := runBottleBottle(t, e, home, "rm", slug); rc != 1 || !strings.Contains(stderr, "is running") {
		t.Errorf("rm of a running bottle: exit %d %s", rc, stderr)
	}
	if _, stderr, rc := runBottleBottle(t, e, home, "stop", slug); rc != 0 {
		t.Fatalf("stop: exit %d %s", rc, stderr)
	}
	if _, stderr, rc := runBottleBottle(t, e, home, "exec", slug); rc != 1 || !strings.Contains(stderr, "is not running") || !strings.Contains(stderr, "resume "+slug) {
		t.Errorf("exec into a stopped bottle: exit %d %s", rc, stderr)
	}
	stdout, stderr, rc = runBottleBottle(t, e, home, "commit", slug)
	if rc != 0 {
		t.Fatalf("commit: exit %d %s", rc, stderr)
	}
	committed := strings.TrimSpace(stdout)
	t.Cleanup(func() { e.eng.ImageRemove(context.Background(), committed, client.ImageRemoveOptions{Force: true}) })

	stdout, stderr, rc = runBottleBottle(t, e, home, "rm", slug)
	if rc != 0 {
		t.Fatalf("rm: exit %d %s%s", rc, stdout, stderr)
	}
	for _, want := range []string{"removed containers and networks of " + slug, "removed image " + committed, "removed state of " + slug} {
		if !strings.Contains(stdout, want) {
			t.Errorf("rm does not say %q:\n%s", want, stdout)
		}
	}
	if left := engineHas(t, e, home); len(left) != 0 {
		t.Errorf("rm left the bottle on the engine: %v", left)
	}
	if _, err := os.Stat(filepath.Join(home, ".bot-bottle", "state", slug)); !os.IsNotExist(err) {
		t.Errorf("rm left the state directory: %v", err)
	}
	if _, err := e.eng.ImageInspect(context.Background(), committed); err == nil {
		t.Errorf("rm left the committed image %s", committed)
	}
	if _, _, rc := runBottleBottle(t, e, home, "rm", slug); rc != 1 {
		t.Errorf("rm of a removed bottle: exit %d, want 1", rc)
	}
}

// slugImages are the images on the engine labelled for slug.
func slugImages(t *testing.T, e env, slug string) []string {
	t.Helper()
	list, err := e.eng.ImageList(context.Background(), client.ImageListOptions{Filters: client.Filters{}.Add("label", backend.LabelSlug+"="+slug)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, im := range list.Items {
		out = append(out, im.RepoTags...)
	}
	return out
}

// TestAgentCommitsAsTheBottle: the user's repository names the host
// user in its own config; the agent's commits in the copy carry the
// bottle's git-gate.user instead.
func TestAgentCommitsAsTheBottle(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	src := userRepo(t)
	hostGit(t, src, "config", "user.name", "Host Person")
	hostGit(t, src, "config", "user.email", "host@example.com")
	p := harness.RealPlan(t, home)
	harness.OnlyDaemons(p, plan.DaemonDNS)
	p.GitConfig = plan.GitConfig(plan.DefaultGitGateURL, manifest.GitUser{Name: "Bottle Bot", Email: "bot@bottle.example"}, nil)
	code, out, progress := startShell(t, e, p, "cd /workspace && git commit -q --allow-empty -m agent && git log -1 --format='%an <%ae> / %cn <%ce>'",
		lifecycle.StartOptions{Workspace: &lifecycle.Workspace{Source: src}})
	if code != 0 || strings.TrimSpace(out) != "Bottle Bot <bot@bottle.example> / Bottle Bot <bot@bottle.example>" {
		t.Errorf("the agent's commit: exit %d, %q (want the bottle's identity)\n%s", code, out, progress)
	}
	if got := hostGit(t, src, "config", "user.name"); got != "Host Person" {
		t.Errorf("the user's own repository config changed: user.name %q", got)
	}
}
