package docker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/backendtest"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// newBackend is a Docker backend whose sidecar is the test fixture: it
// answers HTTP on the sidecar ports and prints the ready line.
func newBackend(t *testing.T) (*docker.Docker, *client.Client) {
	t.Helper()
	eng := harness.Engine(t)
	base := harness.Base(t, eng)
	return docker.New(eng, docker.Options{
		Base:              base,
		SidecarBase:       harness.SidecarBase(t, eng),
		SidecarBinary:     harness.BuildStatic(t, "./test/e2e/fixture"),
		SidecarEntrypoint: []string{"/usr/local/bin/bot-bottle", "fake-sidecar"},
	}), eng
}

func launchOptions() backend.LaunchOptions {
	return backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()}
}

func TestConformance(t *testing.T) {
	d, eng := newBackend(t)
	backendtest.Run(t, backendtest.Config{
		Backend: d,
		NewPlan: func(t *testing.T) plan.Bottle { return harness.ShellPlan(t) },
		Options: launchOptions(),
		RemoveImage: func(ref string) {
			eng.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true})
		},
	})
}

// TestAgentReachesOnlyTheSidecar probes from the agent every address it
// might use to get out, with a positive control for each kind of probe.
func TestAgentReachesOnlyTheSidecar(t *testing.T) {
	d, eng := newBackend(t)
	p := harness.ShellPlan(t)
	b := harness.Launch(t, d, p, launchOptions())

	hostPort := harness.HostListener(t)

	// A neighbour on the bottle's egress network: what the sidecar sees as
	// the internet.
	neighbour := runFixture(t, eng, "bot-bottle-"+p.Slug+"-egress", "serve", ":8080")

	sidecar := inspect(t, eng, "bot-bottle-"+p.Slug+"-sidecar")
	internal := sidecar.NetworkSettings.Networks["bot-bottle-"+p.Slug+"-internal"]
	egress := sidecar.NetworkSettings.Networks["bot-bottle-"+p.Slug+"-egress"]
	if internal == nil || egress == nil {
		t.Fatalf("sidecar networks: %+v", sidecar.NetworkSettings.Networks)
	}
	if got, want := internal.IPAddress.String()+":53", b.Endpoints.DNS; got != want {
		t.Errorf("sidecar internal address %s, endpoints say DNS %s", got, want)
	}

	// Positive controls: the sidecar by alias and address.
	allowed := []string{"egress:9099", "supervise:9100", "git-gate:9420", internal.IPAddress.String() + ":9099"}
	r := harness.Sh(t, d, p.Slug, "for t in "+strings.Join(allowed, " ")+"; do h=${t%:*}; p=${t#*:}; timeout 3 bash -c \"exec 3<>/dev/tcp/$h/$p\" && echo open $t; done")
	for _, a := range allowed {
		if !strings.Contains(r.Stdout, "open "+a+"\n") {
			t.Errorf("agent cannot reach the sidecar at %s: %s", a, r)
		}
	}

	var denied []string
	for _, a := range backendtest.HostAddrs(t) {
		denied = append(denied, net.JoinHostPort(a, hostPort))
	}
	denied = append(denied,
		net.JoinHostPort(internal.Gateway.String(), hostPort), // the bridge's would-be address
		net.JoinHostPort(egress.Gateway.String(), hostPort),
		net.JoinHostPort(egress.IPAddress.String(), "9099"), // the sidecar's other leg
		neighbour+":8080",
	)
	if open := backendtest.Probe(t, d, p.Slug, denied); len(open) > 0 {
		t.Errorf("the agent reached %v", open)
	}

	// The same probes work from a container on an ordinary network, so the
	// refusals above are the bottle's doing.
	out := harness.ExecContainer(t, eng, "bot-bottle-"+p.Slug+"-sidecar", "sh", "-c",
		fmt.Sprintf("timeout 3 bash -c 'exec 3<>/dev/tcp/%s/%s' && echo open-host; timeout 3 bash -c 'exec 3<>/dev/tcp/%s/8080' && echo open-neighbour", egress.Gateway, hostPort, neighbour))
	if !strings.Contains(out, "open-host") || !strings.Contains(out, "open-neighbour") {
		t.Errorf("positive control from the sidecar's egress leg failed: %q", out)
	}

	// No IPv6 in the agent: a dual-stack host listener would be reachable
	// over the bridge's link-local address.
	if r := harness.Sh(t, d, p.Slug, "cat /proc/net/if_inet6 2>/dev/null | wc -l"); strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("agent has IPv6 addresses: %s", r)
	}
}

func TestNetworksAndLabels(t *testing.T) {
	d, eng := newBackend(t)
	p := harness.ShellPlan(t)
	harness.Launch(t, d, p, launchOptions())
	ctx := context.Background()
	in, err := eng.NetworkInspect(ctx, "bot-bottle-"+p.Slug+"-internal", client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !in.Network.Internal || in.Network.Options["com.docker.network.bridge.inhibit_ipv4"] != "true" {
		t.Errorf("internal network: internal=%v options=%v", in.Network.Internal, in.Network.Options)
	}
	if in.Network.Labels[backend.LabelSlug] != p.Slug || in.Network.Labels[backend.LabelRole] != backend.RoleInternal {
		t.Errorf("internal network labels = %v", in.Network.Labels)
	}
	agent := inspect(t, eng, "bot-bottle-"+p.Slug+"-agent")
	hc := agent.HostConfig
	if len(agent.NetworkSettings.Networks) != 1 || agent.NetworkSettings.Networks["bot-bottle-"+p.Slug+"-internal"] == nil {
		t.Errorf("agent networks = %v", keys(agent.NetworkSettings.Networks))
	}
	if hc.Init == nil || !*hc.Init || hc.PidsLimit == nil || *hc.PidsLimit == 0 || hc.Memory == 0 {
		t.Errorf("agent limits: init=%v pids=%v memory=%d", hc.Init, hc.PidsLimit, hc.Memory)
	}
	if !contains(hc.CapDrop, "ALL") || !contains(hc.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("agent hardening: capdrop=%v securityopt=%v", hc.CapDrop, hc.SecurityOpt)
	}
	if agent.Config.Labels[backend.LabelRole] != backend.RoleAgent || agent.Config.Labels[backend.LabelAgent] != "e2e" {
		t.Errorf("agent labels = %v", agent.Config.Labels)
	}
	sc := inspect(t, eng, "bot-bottle-"+p.Slug+"-sidecar")
	if sc.Config.User != fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()) {
		t.Errorf("sidecar user = %q", sc.Config.User)
	}
	if got := harness.ExecContainer(t, eng, sc.ID, "sh", "-c", "getent passwd $(id -u) | cut -d: -f6; env | grep -ci proxy"); got != "/root\n0\n" && !strings.HasPrefix(got, "/home/bot-bottle\n0") {
		t.Errorf("sidecar passwd home / proxy env: %q", got)
	}
}

func TestLaunchFailureTearsDown(t *testing.T) {
	eng := harness.Engine(t)
	base := harness.Base(t, eng)
	d := docker.New(eng, docker.Options{
		Base:              base,
		SidecarBase:       harness.SidecarBase(t, eng),
		SidecarBinary:     harness.BuildStatic(t, "./test/e2e/fixture"),
		SidecarEntrypoint: []string{"sh", "-c", "echo sidecar failing on purpose; exit 7"},
		ReadyTimeout:      20 * time.Second,
	})
	p := harness.ShellPlan(t)
	_, err := d.Launch(context.Background(), p, launchOptions())
	var step *docker.StepError
	if !errors.As(err, &step) || step.Step != "waiting for the sidecar" {
		t.Fatalf("error = %v, want a failure at the sidecar wait", err)
	}
	if !strings.Contains(err.Error(), "sidecar failing on purpose") || !strings.Contains(err.Error(), "exit code 7") {
		t.Errorf("error does not show the sidecar's output and exit: %v", err)
	}
	list, err := d.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Slug == p.Slug {
			t.Errorf("left behind after a failed launch: %+v", s)
		}
	}
}

func inspect(t *testing.T, eng *client.Client, name string) container.InspectResponse {
	t.Helper()
	res, err := eng.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container
}

// runFixture runs the fixture binary with args on network and returns
// its address there.
func runFixture(t *testing.T, eng *client.Client, networkName string, args ...string) string {
	t.Helper()
	bin := harness.BuildStatic(t, "./test/e2e/fixture")
	_, ip := harness.RunOn(t, eng, harness.Base(t, eng), networkName, "fixture", filepath.Dir(bin), append([]string{"/srv/fixture"}, args...)...)
	return ip
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(list []string, v string) bool { return slices.Contains(list, v) }
