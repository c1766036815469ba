package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// envRuntime names the OCI runtime the engine is set up to give the agent
// for this run (scripts/test.d/50-runsc.sh sets runsc); unset: the
// engine's default.
const envRuntime = "BOT_BOTTLE_E2E_RUNTIME"

// underGVisor: this run gives the agent runsc.
func underGVisor() bool { return os.Getenv(envRuntime) == "runsc" }

// TestAgentRuntime: with no runtime asked for, the agent runs under runsc
// exactly when the engine has it (the sidecar stays on the default), the
// agent's kernel is gVisor's and not the host's, and list and doctor name
// the runtime.
func TestAgentRuntime(t *testing.T) {
	e := setup(t)
	info, err := e.eng.Info(context.Background(), client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, hasRunsc := info.Info.Runtimes["runsc"]
	want := os.Getenv(envRuntime)
	if want == "runsc" && !hasRunsc {
		t.Fatalf("%s=runsc but the engine has no runsc (runtimes %v)", envRuntime, info.Info.Runtimes)
	}
	if want == "" {
		want = info.Info.DefaultRuntime
		if hasRunsc {
			want = "runsc"
		}
	}

	home := t.TempDir()
	p := attestPlan(t, home)
	if err := lifecycle.Prepare(p, makeCA); err != nil {
		t.Fatal(err)
	}
	harness.Launch(t, e.be, *p, backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()})

	list, err := e.be.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Slug == p.Slug && s.Runtime != want {
			t.Errorf("list shows runtime %q for the agent, want %q", s.Runtime, want)
		}
	}
	host, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	r := harness.Sh(t, e.be, p.Slug, "uname -r")
	inGVisor := strings.TrimSpace(r.Stdout) != strings.TrimSpace(string(host))
	if inGVisor != (want == "runsc") {
		t.Errorf("agent kernel %q, host %q: want the agent under %s", strings.TrimSpace(r.Stdout), strings.TrimSpace(string(host)), want)
	}
	sidecar := harness.ExecContainer(t, e.eng, sidecarContainer(t, e.eng, p.Slug), "cat", "/proc/sys/kernel/osrelease")
	if strings.TrimSpace(sidecar) != strings.TrimSpace(string(host)) {
		t.Errorf("the sidecar's kernel is %q, not the host's: it should stay on the default runtime", sidecar)
	}

	out, errOut, _ := runBottleBottle(t, e, home, "doctor", p.Slug)
	if !strings.Contains(out, "agent runtime "+want) {
		t.Errorf("doctor does not name the agent runtime %s:\n%s\n%s", want, out, errOut)
	}
}

// sidecarContainer is the ID of slug's sidecar container.
func sidecarContainer(t *testing.T, eng *client.Client, slug string) string {
	t.Helper()
	f := client.Filters{}.Add("label", backend.LabelSlug+"="+slug).Add("label", backend.LabelRole+"="+backend.RoleSidecar)
	l, err := eng.ContainerList(context.Background(), client.ContainerListOptions{Filters: f})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("sidecar of %s: %v (%d found)", slug, err, len(l.Items))
	}
	return l.Items[0].ID
}
