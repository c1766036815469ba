package docker

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// TestBuildContainerWalls asserts, against a fake engine, the walls of a
// capability build: the container that runs a line stands on the build's
// internal network only, resolves through the build sidecar alone and
// carries no proxy setting a commit would keep; the build sidecar runs the
// proxy and the resolver only, on the build's internal network, which has
// no route out and no host address.
func TestBuildContainerWalls(t *testing.T) {
	eng := &recordingEngine{containers: map[string]client.ContainerCreateOptions{}, networks: map[string]client.NetworkCreateOptions{}}
	d := New(eng, Options{})
	b := plan.Bottle{Slug: "impl-k3x9q", StateDir: "/state/impl-k3x9q", SidecarEnv: map[string]string{"BOT_BOTTLE_SIDECAR_DAEMONS": "egress,supervise,dns"},
		Capabilities: plan.Capabilities{Routes: manifest.DefaultCapabilityRoutes()}}
	b.Mounts, b.SidecarEnv = b.CapabilityMounts(), b.CapabilitySidecarEnv()
	l := &launch{d: d, b: b, opts: backend.LaunchOptions{Getenv: func(string) string { return "" }}}
	ctx := context.Background()
	subnet, err := l.createInternalNetwork(ctx, buildInternalName(b.Slug), nil)
	if err != nil {
		t.Fatal(err)
	}
	ip := subnet.Addr().Next().Next()
	if _, err := l.createSidecar(ctx, buildSidecarName(b.Slug), buildInternalName(b.Slug), RoleCapabilityBuild, "sidecar:img", ip); err != nil {
		t.Fatal(err)
	}
	env := &buildEnv{d: d, b: b, l: l, sidecarIP: ip, resolvConf: "/state/build/resolv.conf", caDir: "/state/agent-ca"}
	if _, err := env.container(ctx, "agent:img", nil); err != nil {
		t.Fatal(err)
	}

	if n := eng.networks[buildInternalName(b.Slug)]; !n.Internal || n.Options[inhibitIPv4] != "true" {
		t.Errorf("build network: internal %v options %v", n.Internal, n.Options)
	}
	side := eng.containers[buildSidecarName(b.Slug)]
	if !slices.Contains(side.Config.Env, "BOT_BOTTLE_SIDECAR_DAEMONS=egress,dns") || side.Config.Labels[backend.LabelRole] != RoleCapabilityBuild {
		t.Errorf("build sidecar env %v labels %v", side.Config.Env, side.Config.Labels)
	}
	run := eng.containers[buildRunName(b.Slug)]
	if got := string(run.HostConfig.NetworkMode); got != buildInternalName(b.Slug) {
		t.Errorf("build container network %q, want only %s", got, buildInternalName(b.Slug))
	}
	if len(run.NetworkingConfig.EndpointsConfig) != 1 || run.NetworkingConfig.EndpointsConfig[buildInternalName(b.Slug)] == nil {
		t.Errorf("build container endpoints %v", run.NetworkingConfig.EndpointsConfig)
	}
	if !slices.Equal(run.HostConfig.DNS, []netip.Addr{ip}) {
		t.Errorf("build container DNS %v, want the build sidecar %s", run.HostConfig.DNS, ip)
	}
	if !slices.ContainsFunc(run.HostConfig.Mounts, func(m mount.Mount) bool {
		return m.Target == "/etc/resolv.conf" && m.Source == env.resolvConf && m.ReadOnly
	}) {
		t.Errorf("build container mounts %v: no resolv.conf naming the build sidecar", run.HostConfig.Mounts)
	}
	if strings.Contains(strings.Join(run.Config.Env, " "), "PROXY") || run.Config.User != "0:0" {
		t.Errorf("build container env %v user %q: the proxy belongs to the exec, the container is root", run.Config.Env, run.Config.User)
	}
}
