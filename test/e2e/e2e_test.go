// Package e2e runs bot-bottle against the real Docker engine: the real
// binary as the sidecar, the seeded base image, the shell bottle. Tests skip
// (saying why) where no engine answers, and fail under
// BOT_BOTTLE_REQUIRE_ALL=1.
package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman/podmantest"
	"github.com/bot-bottle/bot-bottle/internal/cli"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/provider"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// env is one e2e setup: an engine, the real binary and a backend whose
// sidecar runs it.
type env struct {
	eng *client.Client
	bin string
	be  *docker.Docker
}

func setup(t testing.TB) env {
	t.Helper()
	if os.Getenv("BOT_BOTTLE_E2E_BACKEND") == "podman" {
		return setupPodman(t)
	}
	eng := harness.Engine(t)
	base := harness.Base(t, eng)
	bin := harness.BuildStatic(t, "./cmd/bot-bottle")
	return env{eng: eng, bin: bin, be: docker.New(eng, docker.Options{Base: base, SidecarBase: harness.SidecarBase(t, eng), SidecarBinary: bin})}
}

// TestDNSOnlyThroughTheSidecar: the agent's resolver forwards to the
// sidecar's, which refuses outside names and logs them; sidecar aliases
// resolve. The sidecar runs as an ordinary uid and still binds port 53.
func TestDNSOnlyThroughTheSidecar(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	p := harness.RealPlan(t, home)
	harness.OnlyDaemons(p, plan.DaemonDNS)
	if err := lifecycle.Prepare(p, nil); err != nil {
		t.Fatal(err)
	}
	uid, gid := harness.OrdinaryUser(t, p.StateDir)
	b := harness.Launch(t, e.be, *p, backend.LaunchOptions{UID: uid, GID: gid})

	r := harness.Sh(t, e.be, p.Slug, "getent hosts exfil-probe.example.com; echo rc=$?; getent hosts egress | cut -d' ' -f1")
	sidecarIP, _, _ := strings.Cut(b.Endpoints.DNS, ":")
	if !strings.Contains(r.Stdout, "rc=2\n") || !strings.HasSuffix(r.Stdout, sidecarIP+"\n") {
		t.Errorf("want the outside name refused (rc=2) and egress at %s, got %s", sidecarIP, r)
	}
	logFile := filepath.Join(p.StateDir, "logs", "dns.jsonl")
	var logged []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		logged, _ = os.ReadFile(logFile)
		if bytes.Contains(logged, []byte("exfil-probe.example.com")) {
			break
		}
	}
	if !bytes.Contains(logged, []byte("exfil-probe.example.com")) {
		t.Errorf("the sidecar's resolver did not log the refused name; %s:\n%s", logFile, logged)
	}
	if st, err := os.Stat(logFile); err == nil && int(statUID(st)) != uid {
		t.Errorf("%s is owned by uid %d, want the invoking user's %d", logFile, statUID(st), uid)
	}
}

// shellProvision is what start provisions for the shell bottle.
func shellProvision(t testing.TB, headless bool, prompt string) provider.Provision {
	t.Helper()
	spec, ok := provider.Builtin(provider.Shell)
	if !ok {
		t.Fatal("no shell template")
	}
	prov, err := spec.Provision(provider.Input{Headless: headless, Prompt: prompt, CAFile: plan.AgentCADir + "/ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	return prov
}

// TestHeadlessStartThenCleanup runs the shell bottle's one-shot mode the
// way start does, keeps one bottle, and checks that cleanup leaves no
// container, network or state behind, except state marked .preserve.
func TestHeadlessStartThenCleanup(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	ctx := context.Background()
	start := func(prompt string, keep bool) (*plan.Bottle, int, string) {
		p := harness.RealPlan(t, home)
		harness.OnlyDaemons(p, plan.DaemonDNS)
		t.Cleanup(func() { e.be.Remove(context.Background(), p.Slug) })
		var out, progress bytes.Buffer
		began := time.Now()
		code, err := lifecycle.Start(ctx, p, lifecycle.StartOptions{
			Backend:   e.be,
			Provision: shellProvision(t, true, prompt),
			Launch:    backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()},
			Session:   lifecycle.Session{Stdout: &out, Stderr: &out},
			Keep:      keep,
			Progress:  &progress,
		})
		if err != nil {
			t.Fatalf("start: %v\n%s", err, progress.String())
		}
		t.Logf("start --headless to exit: %s", time.Since(began).Round(time.Millisecond))
		return p, code, out.String()
	}

	p1, code, out := start(`echo "hello from $(id -un) in $PWD"; git --version >/dev/null && echo git-ok`, false)
	if code != 0 || out != "hello from agent in /workspace\ngit-ok\n" {
		t.Errorf("headless shell: exit %d, output %q", code, out)
	}
	if list, _ := e.be.List(ctx); hasSlug(list, p1.Slug) {
		t.Errorf("%s still has containers after the agent exited", p1.Slug)
	}
	if m, err := lifecycle.ReadMetadata(p1.StateDir); err != nil || m.Agent != "shell" || m.Backend != "docker" {
		t.Errorf("metadata = %+v, %v", m, err)
	}

	_, code, _ = start("exit 3", false)
	if code != 3 {
		t.Errorf("failing prompt: exit %d, want 3", code)
	}

	kept, _, _ := start("true", true)
	preserved, _, _ := start("true", true)
	if err := os.WriteFile(filepath.Join(preserved.StateDir, lifecycle.PreserveFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	list, _ := e.be.List(ctx)
	if !hasSlug(list, kept.Slug) {
		t.Fatalf("--keep bottle %s has no containers", kept.Slug)
	}
	// The agent of a kept bottle idles; stop it so cleanup takes it.
	if err := e.be.Stop(ctx, kept.Slug); err != nil {
		t.Fatal(err)
	}
	if err := e.be.Stop(ctx, preserved.Slug); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	rc := cli.Run(ctx, []string{"cleanup"}, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil },
		Home: home, Cwd: home,
	})
	if rc != 0 {
		t.Fatalf("cleanup exit %d: %s", rc, stderr.String())
	}
	list, _ = e.be.List(ctx)
	for _, slug := range []string{kept.Slug, preserved.Slug, p1.Slug} {
		if hasSlug(list, slug) {
			t.Errorf("%s has containers or networks after cleanup", slug)
		}
	}
	if _, err := os.Stat(kept.StateDir); !os.IsNotExist(err) {
		t.Errorf("state of %s left after cleanup (%v)\n%s", kept.Slug, err, stdout.String())
	}
	if _, err := os.Stat(p1.StateDir); !os.IsNotExist(err) {
		t.Errorf("state of %s left after cleanup (%v)", p1.Slug, err)
	}
	if _, err := os.Stat(preserved.StateDir); err != nil {
		t.Errorf("state marked .preserve was removed: %v", err)
	}
}

func hasSlug(list []backend.Summary, slug string) bool {
	for _, s := range list {
		if s.Slug == slug {
			return true
		}
	}
	return false
}

// setupPodman is setup on a rootful Podman service of the test's own (CNI
// networks, the seeded images copied from Docker), for the walls tests
// that scripts/test.d/60-podman.sh runs with BOT_BOTTLE_E2E_BACKEND=podman.
// The Docker backend's code drives it, as the podman backend's does.
func setupPodman(t testing.TB) env {
	t.Helper()
	svc := podmantest.Start(t, "cni")
	dk := harness.Engine(t)
	eng := svc.Client(t)
	bin := harness.BuildStatic(t, "./cmd/bot-bottle")
	svc.Image(t, dk, harness.UpstreamImage)
	p := podman.New(eng, podman.InfoFrom(svc.Host), docker.Options{
		Base: svc.Image(t, dk, harness.Base(t, dk)), SidecarBase: svc.Image(t, dk, harness.SidecarBase(t, dk)), SidecarBinary: bin,
		Runtime: os.Getenv(envRuntime)})
	if underGVisor() {
		svc.AddGVisor(t, p) // the agent under runsc: created by a second service
	}
	return env{eng: eng, bin: bin, be: p.Docker}
}
