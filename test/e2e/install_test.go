package e2e

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// TestDynamicInstallSaysHi is the README's one-step install: a plain
// `go install ./cmd/bot-bottle` with cgo on (a dynamic binary the sidecar
// image cannot carry), then `bot-bottle start --headless --prompt 'echo
// hi'` prints hi: start builds the static sidecar copy once, into the
// user's cache, with a progress line; the second start reuses it. (The
// base images are the seeded ones: seeding is measured elsewhere.)
func TestDynamicInstallSaysHi(t *testing.T) {
	eng := harness.Engine(t)
	base, sidecarBase := harness.Base(t, eng), harness.SidecarBase(t, eng)
	root := harness.RepoRoot(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc: without it go install makes a static binary")
	}
	home, gobin := t.TempDir(), t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"BOT_BOTTLE_BASE_IMAGE=" + base, "BOT_BOTTLE_SIDECAR_BASE_IMAGE=" + sidecarBase}
	for _, k := range []string{"GOMODCACHE", "GOCACHE", "GOPATH", "GOTOOLCHAIN", "GOFLAGS"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		env = append(env, k+"="+strings.TrimSpace(string(out)))
	}
	if v := os.Getenv("DOCKER_HOST"); v != "" {
		env = append(env, "DOCKER_HOST="+v)
	}
	install := exec.Command("go", "install", "./cmd/bot-bottle")
	install.Dir, install.Env = root, append(slices.Clone(env), "CGO_ENABLED=1", "GOBIN="+gobin)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	bin := filepath.Join(gobin, "bot-bottle")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if !dynamic {
		t.Fatalf("go install with cgo on made a static %s: the test proves nothing", bin)
	}
	run := func() (string, string) {
		t.Helper()
		cmd := exec.Command(bin, "start", "--rm", "--headless", "--prompt", "echo hi")
		cmd.Dir, cmd.Env = root, env
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("bot-bottle start: %v\nstdout %q\n%s", err, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	stdout, stderr := run()
	if stdout != "hi\n" || !strings.Contains(stderr, "building the static sidecar binary once") {
		t.Errorf("first start: stdout %q, want hi, and the one-time build said:\n%s", stdout, stderr)
	}
	stdout, stderr = run()
	if stdout != "hi\n" || strings.Contains(stderr, "building the static sidecar binary") {
		t.Errorf("second start: stdout %q, want hi and no second build:\n%s", stdout, stderr)
	}
}
