package podman_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/backendtest"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/backend/engines"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman/podmantest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// newBackend is a Podman backend on a fresh rootful `podman system
// service` with the CNI network backend, whose sidecar is the test
// fixture (it answers HTTP on the sidecar ports and prints the ready line).
func newBackend(t *testing.T) (*podman.Podman, *client.Client, *podmantest.Service) {
	t.Helper()
	svc := podmantest.Start(t, "cni")
	dk := harness.Engine(t)
	eng := svc.Client(t)
	return podman.New(eng, podman.InfoFrom(svc.Host), docker.Options{
		Base:              svc.Image(t, dk, harness.Base(t, dk)),
		SidecarBase:       svc.Image(t, dk, harness.SidecarBase(t, dk)),
		SidecarBinary:     harness.BuildStatic(t, "./test/e2e/fixture"),
		SidecarEntrypoint: []string{"/usr/local/bin/bot-bottle", "fake-sidecar"},
	}), eng, svc
}

func launchOptions() backend.LaunchOptions {
	return backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()}
}

func TestConformance(t *testing.T) {
	p, eng, _ := newBackend(t)
	backendtest.Run(t, backendtest.Config{
		Backend: p,
		NewPlan: func(t *testing.T) plan.Bottle { return harness.ShellPlan(t) },
		Options: launchOptions(),
		RemoveImage: func(ref string) {
			eng.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true})
		},
	})
}

// TestRefusesNetavark: on a real engine running netavark the launch is
// refused and leaves nothing behind. Without the check the agent reaches
// a host listener there (docs/runtimes.md).
func TestRefusesNetavark(t *testing.T) {
	svc := podmantest.Start(t, "netavark")
	eng := svc.Client(t)
	p := podman.New(eng, podman.InfoFrom(svc.Host), docker.Options{})
	plan := harness.ShellPlan(t)
	_, err := p.Launch(context.Background(), plan, launchOptions())
	if err == nil || !strings.Contains(err.Error(), `"netavark" network backend`) {
		t.Fatalf("launch on netavark: %v, want the refusal", err)
	}
	list, err := p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The store is the machine's: other bottles may be on it.
	if slices.ContainsFunc(list, func(s backend.Summary) bool { return s.Slug == plan.Slug }) {
		t.Errorf("left behind: %+v", list)
	}
	nets, err := eng.NetworkList(context.Background(), client.NetworkListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets.Items {
		if strings.Contains(n.Name, plan.Slug) {
			t.Errorf("network %s left behind", n.Name)
		}
	}
}

// TestOpenAllSeesPodmanBottles: with CONTAINER_HOST naming the Podman
// service, the engines every command but start opens (list, stop, rm,
// cleanup) list a Podman bottle as podman's and remove it there.
func TestOpenAllSeesPodmanBottles(t *testing.T) {
	p, _, svc := newBackend(t)
	pl := harness.ShellPlan(t)
	harness.Launch(t, p, pl, launchOptions())
	ctx := context.Background()
	all, closeAll, err := engines.OpenAll(ctx, engines.Config{Getenv: func(k string) string {
		if k == podman.EnvHost {
			return svc.Host
		}
		return os.Getenv(k)
	}}, false) // not strict: another configured engine being down is not this test's business
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if !strings.Contains(all.Name(), "podman") {
		t.Fatalf("engines opened: %s", all.Name())
	}
	list, err := all.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(s backend.Summary) bool { return s.Slug == pl.Slug })
	if i < 0 || list[i].Backend != "podman" || list[i].State != "running" {
		t.Fatalf("%s in the engines' list: %+v", pl.Slug, list)
	}
	if err := all.Remove(ctx, pl.Slug); err != nil {
		t.Fatal(err)
	}
	if list, _ := p.List(ctx); slices.ContainsFunc(list, func(s backend.Summary) bool { return s.Slug == pl.Slug }) {
		t.Errorf("%s still on Podman after Remove through the engines", pl.Slug)
	}
}

// TestRootless: rootless Podman, as the user the CI setup creates. On
// this machine's cgroup v1 it ignores every resource limit (its own
// warning: "Resource limits are not supported and ignored on cgroups V1
// rootless systems"), and on v2 it needs the systemd cgroup manager, which
// the test's configuration does not use: the launch is refused, naming
// why, before anything is made.
func TestRootless(t *testing.T) {
	svc := podmantest.StartRootless(t, "cni")
	ctx := context.Background()
	info, err := podman.InfoFrom(svc.Host)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Rootless || info.NetworkBackend != "cni" {
		t.Fatalf("service info %+v, want rootless on CNI", info)
	}
	// The service runs with cgroupfs: limits cannot be set on v1 or v2.
	p := podman.New(svc.Client(t), podman.InfoFrom(svc.Host), docker.Options{})
	_, err = p.Launch(ctx, harness.ShellPlan(t), launchOptions())
	if err == nil || !strings.Contains(err.Error(), "the agent's pids and memory limits") {
		t.Fatalf("rootless launch (cgroup %s, %s): %v, want the refusal", info.CgroupVersion, info.CgroupManager, err)
	}
	if list, err := p.List(ctx); err != nil || len(list) > 0 {
		t.Errorf("after the refusal: %+v, %v", list, err)
	}
}

// TestOpenFindsTheGVisorService: Open (what `start --backend podman`
// uses) finds the gVisor service at podman-runsc.sock beside the socket,
// and a bottle with runtime runsc runs its agent on gVisor's kernel.
func TestOpenFindsTheGVisorService(t *testing.T) {
	svc := podmantest.Start(t, "cni")
	svc.GVisor(t)
	dk := harness.Engine(t)
	ctx := context.Background()
	p, closeFn, err := podman.Open(ctx, svc.Host, podman.GVisorSocket(func(string) string { return "" }, svc.Host), docker.Options{
		Base:              svc.Image(t, dk, harness.Base(t, dk)),
		SidecarBase:       svc.Image(t, dk, harness.SidecarBase(t, dk)),
		SidecarBinary:     harness.BuildStatic(t, "./test/e2e/fixture"),
		SidecarEntrypoint: []string{"/usr/local/bin/bot-bottle", "fake-sidecar"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	pl := harness.ShellPlan(t)
	pl.Runtime = "runsc"
	harness.Launch(t, p, pl, launchOptions())
	host, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if r := harness.Sh(t, p, pl.Slug, "uname -r; dmesg | head -1"); r.Stdout == string(host) || !strings.Contains(r.Stdout, "gVisor") {
		t.Errorf("agent: %s, want gVisor's kernel (the host's is %q)", r, host)
	}
}
