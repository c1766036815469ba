package docker

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// targetsEngine is one agent on a sealed internal network and an extra
// one, among the engine's other networks.
type targetsEngine struct {
	Engine  // nil: any other call panics
	running bool
}

func (f targetsEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: []container.Summary{{ID: "agent1234567890"}}}, nil
}

func (f targetsEngine) ContainerInspect(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	a := netip.MustParseAddr
	return client.ContainerInspectResult{Container: container.InspectResponse{
		State:  &container.State{Running: f.running},
		Config: &container.Config{Env: []string{"PATH=/bin", "HTTPS_PROXY=http://egress:9099"}},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			"bot-bottle-x-internal": {NetworkID: "internal", IPAddress: a("10.213.0.3")},
			"extra":                 {NetworkID: "extra", IPAddress: a("172.30.0.2"), Gateway: a("172.30.0.1")},
		}},
	}}, nil
}

func (f targetsEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	n := func(id, gw string, labels map[string]string) network.Summary {
		var s network.Summary
		s.ID, s.Labels = id, labels
		s.IPAM.Config = []network.IPAMConfig{{Gateway: netip.MustParseAddr(gw)}}
		return s
	}
	sealed := map[string]string{backend.LabelRole: backend.RoleInternal}
	return client.NetworkListResult{Items: []network.Summary{
		n("internal", "10.213.0.1", sealed),
		n("extra", "172.30.0.1", nil),
		n("bridge", "172.17.0.1", nil),
		n("other-bottle", "10.213.0.17", sealed),
	}}, nil
}

func TestTargets(t *testing.T) {
	tg, err := New(targetsEngine{running: true}, Options{}).Targets(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	if !slices.Equal(tg.Gateways, []netip.Addr{a("10.213.0.1"), a("172.30.0.1")}) {
		t.Errorf("gateways %v: want the agent's networks' gateways, the sealed one included", tg.Gateways)
	}
	if !slices.Contains(tg.HostAddrs, a("172.17.0.1")) || slices.Contains(tg.HostAddrs, a("10.213.0.17")) || slices.Contains(tg.HostAddrs, a("172.30.0.1")) {
		t.Errorf("host addresses %v: want the engine's other gateways, not other bottles' sealed ones, not the agent's own gateways", tg.HostAddrs)
	}
	if !slices.Equal(tg.AgentAddrs, []netip.Addr{a("10.213.0.3"), a("172.30.0.2")}) || tg.Proxy != "http://egress:9099" {
		t.Errorf("agent addrs %v, proxy %q", tg.AgentAddrs, tg.Proxy)
	}
	if _, err := New(targetsEngine{running: false}, Options{}).Targets(context.Background(), "x"); err == nil {
		t.Error("a stopped agent was attested")
	}
}
