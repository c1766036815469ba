package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// TestREADMEMainCommand runs the README's main job as a user on a fresh
// machine would: scripts/bot-bottle builds a static bin/bot-bottle and
// starts the built-in shell bottle, whose curl to an undeclared host gets
// the sidecar's 403 naming the host. A second start (the first made
// ~/.bot-bottle/state) still finds the built-in agent and does not rebuild.
func TestREADMEMainCommand(t *testing.T) {
	eng := harness.Engine(t)
	harness.Base(t, eng) // seeded here, under the lock, so the script does not seed
	harness.SidecarBase(t, eng)
	root := harness.RepoRoot(t)
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	for _, k := range []string{"GOMODCACHE", "GOCACHE", "GOPATH", "GOTOOLCHAIN"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		env = append(env, k+"="+strings.TrimSpace(string(out)))
	}
	for _, k := range []string{"DOCKER_HOST", "BOT_BOTTLE_BASE_IMAGE", "BOT_BOTTLE_SIDECAR_BASE_IMAGE", "TMPDIR"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	run := func(prompt string) (string, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(root, "scripts", "bot-bottle"), "start", "--headless", "--prompt", prompt)
		cmd.Dir, cmd.Env = home, env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("running scripts/bot-bottle: %v", err)
		}
		return string(out), code
	}

	out, code := run("curl -sI https://example.com")
	if code != 1 || !strings.Contains(out, "HTTP/1.1 403 ") || !strings.Contains(out, "example.com") {
		t.Fatalf("want exit 1 and the proxy's 403 naming example.com, got exit %d:\n%s", code, out)
	}
	if st, err := os.Stat(filepath.Join(root, "bin", "bot-bottle")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("bin/bot-bottle: %v", err)
	}

	out, code = run("echo second start")
	if code != 0 || !strings.Contains(out, "second start") {
		t.Fatalf("second start: exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "building a static") {
		t.Errorf("second start rebuilt bin/bot-bottle with no source changed:\n%s", out)
	}
}
