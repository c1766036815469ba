package docker

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// recordingEngine records what the launch asks the engine to create;
// every call it does not answer panics.
type recordingEngine struct {
	Engine
	containers map[string]client.ContainerCreateOptions
	networks   map[string]client.NetworkCreateOptions
}

func (e *recordingEngine) ContainerCreate(_ context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	e.containers[o.Name] = o
	return client.ContainerCreateResult{ID: o.Name}, nil
}

func (e *recordingEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{}, nil
}

func (e *recordingEngine) NetworkCreate(_ context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	e.networks[name] = o
	return client.NetworkCreateResult{ID: name}, nil
}

// TestLaunchBuildsTheWalls asserts the container and network settings the
// launch builds, against a fake engine: each is a wall a Docker test only
// sees indirectly.
func TestLaunchBuildsTheWalls(t *testing.T) {
	eng := &recordingEngine{containers: map[string]client.ContainerCreateOptions{}, networks: map[string]client.NetworkCreateOptions{}}
	d := New(eng, Options{})
	const secret = "sk-secret-value-only-the-sidecar-holds"
	b := plan.Bottle{
		Slug:             "walls-x",
		StateDir:         t.TempDir(),
		Agent:            plan.Agent{Name: "impl"},
		AgentEnv:         map[string]string{"FOO": "bar"},
		SidecarSecretEnv: []string{"API_TOKEN"},
	}
	l := &launch{d: d, b: b, opts: backend.LaunchOptions{UID: 1000, GID: 1000, ProbeBinary: "/host/bin/bot-bottle", Getenv: func(k string) string {
		if k == "API_TOKEN" {
			return secret
		}
		return ""
	}}}
	ctx := context.Background()
	subnet, err := l.createInternalNetwork(ctx, internalName(b.Slug), nil)
	if err != nil {
		t.Fatal(err)
	}
	ip := subnet.Addr().Next().Next()
	if _, err := l.createSidecar(ctx, sidecarName(b.Slug), internalName(b.Slug), backend.RoleSidecar, "sidecar:img", ip); err != nil {
		t.Fatal(err)
	}
	out := backend.Bottle{AgentImage: "agent:img", Endpoints: backend.Endpoints{ProxyURL: plan.DefaultProxyURL}, ProbePath: ProbePath}
	if _, err := l.createAgent(ctx, out, "runsc", ip, ip.Next()); err != nil {
		t.Fatal(err)
	}
	// The probe binary reaches the agent read-only: it cannot rewrite what
	// attestation runs.
	if !slices.ContainsFunc(eng.containers[agentName(b.Slug)].HostConfig.Mounts, func(m mount.Mount) bool {
		return m.Source == "/host/bin/bot-bottle" && m.Target == ProbePath && m.ReadOnly
	}) {
		t.Errorf("agent mounts %+v: want the probe binary read-only at %s", eng.containers[agentName(b.Slug)].HostConfig.Mounts, ProbePath)
	}

	in := eng.networks[internalName(b.Slug)]
	if !in.Internal || in.Options[inhibitIPv4] != "true" {
		t.Errorf("internal network: internal %v, options %v: want internal and %s=true", in.Internal, in.Options, inhibitIPv4)
	}

	agent := eng.containers[agentName(b.Slug)]
	side := eng.containers[sidecarName(b.Slug)]
	for name, c := range map[string]client.ContainerCreateOptions{"agent": agent, "sidecar": side} {
		hc := c.HostConfig
		if hc == nil {
			t.Fatalf("%s was not created", name)
		}
		if !slices.Equal(hc.CapDrop, []string{"ALL"}) || len(hc.CapAdd) > 0 {
			t.Errorf("%s capabilities: drop %v add %v, want drop ALL add none", name, hc.CapDrop, hc.CapAdd)
		}
		if !slices.Contains(hc.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s security options %v lack no-new-privileges", name, hc.SecurityOpt)
		}
		if hc.Privileged || hc.NetworkMode.IsHost() || hc.PidMode.IsHost() {
			t.Errorf("%s: privileged %v, network %q, pid %q", name, hc.Privileged, hc.NetworkMode, hc.PidMode)
		}
		if hc.PidsLimit == nil || *hc.PidsLimit <= 0 {
			t.Errorf("%s has no pids limit", name)
		}
	}
	if agent.HostConfig.Memory <= 0 {
		t.Errorf("agent has no memory limit")
	}
	if agent.HostConfig.Runtime != "runsc" || agent.Config.Labels[backend.LabelRuntime] != "runsc" {
		t.Errorf("agent runtime %q, label %q: want runsc", agent.HostConfig.Runtime, agent.Config.Labels[backend.LabelRuntime])
	}
	if !slices.Equal(agent.HostConfig.DNS, []netip.Addr{ip}) {
		t.Errorf("agent DNS %v, want only the sidecar %s", agent.HostConfig.DNS, ip)
	}
	if nets := agent.NetworkingConfig.EndpointsConfig; len(nets) != 1 || nets[internalName(b.Slug)] == nil {
		t.Errorf("agent networks %v, want the internal network only", nets)
	}
	for _, kv := range agent.Config.Env {
		if strings.Contains(kv, secret) || strings.HasPrefix(kv, "API_TOKEN=") {
			t.Errorf("the agent's env holds the sidecar's secret: %s", strings.SplitN(kv, "=", 2)[0])
		}
	}
	if !slices.Contains(side.Config.Env, "API_TOKEN="+secret) {
		t.Errorf("the sidecar did not get its secret env")
	}
	assertNoMountsEscape(t, agent.HostConfig)
}

// assertNoMountsEscape: with no plan mounts the agent gets no bind mount
// at all (never the engine socket), but under runsc its read-only
// resolv.conf naming only the sidecar, and the probe binary read-only.
func assertNoMountsEscape(t *testing.T, hc *container.HostConfig) {
	t.Helper()
	ms := hc.Mounts
	if hc.Runtime == "runsc" {
		if len(ms) == 0 || ms[0].Target != "/etc/resolv.conf" || !ms[0].ReadOnly {
			t.Errorf("agent under runsc mounts %v: want a read-only /etc/resolv.conf", ms)
		} else if data, err := os.ReadFile(ms[0].Source); err != nil || !strings.HasPrefix(string(data), "nameserver ") || strings.Count(string(data), "nameserver") != 1 {
			t.Errorf("agent resolv.conf %q (%v): want one nameserver, the sidecar", data, err)
		}
		ms = ms[1:]
	}
	ms = slices.DeleteFunc(slices.Clone(ms), func(m mount.Mount) bool { return m.Target == ProbePath && m.ReadOnly })
	if len(ms) > 0 || len(hc.Binds) > 0 {
		t.Errorf("agent mounts %v binds %v, want none", ms, hc.Binds)
	}
}
