package docker

import (
	"context"
	"net/netip"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// TestAgentGetsTheBottlesResources: the plan's resources are the agent
// container's limits; a plan without them gets the backend's defaults.
func TestAgentGetsTheBottlesResources(t *testing.T) {
	for _, tc := range []struct {
		name      string
		res       plan.Resources
		mem, pids int64
		nano      int64
	}{
		{"bottle", plan.Resources{MemoryBytes: 512 << 20, CPUs: 1.5, Pids: 256}, 512 << 20, 256, 1_500_000_000},
		{"defaults", plan.Resources{}, 4 << 30, 1024, 0},
	} {
		eng := &recordingEngine{containers: map[string]client.ContainerCreateOptions{}, networks: map[string]client.NetworkCreateOptions{}}
		b := plan.Bottle{Slug: "res-x", StateDir: t.TempDir(), Agent: plan.Agent{Name: "impl"}, Resources: tc.res}
		l := &launch{d: New(eng, Options{}), b: b, opts: backend.LaunchOptions{UID: 1000, GID: 1000, Getenv: func(string) string { return "" }}}
		if _, err := l.createAgent(context.Background(), backend.Bottle{AgentImage: "agent:img"}, "runc", netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")); err != nil {
			t.Fatal(err)
		}
		hc := eng.containers[agentName(b.Slug)].HostConfig
		if hc.Memory != tc.mem || hc.PidsLimit == nil || *hc.PidsLimit != tc.pids || hc.NanoCPUs != tc.nano {
			t.Errorf("%s: memory %d, pids %v, nanocpus %d; want %d, %d, %d", tc.name, hc.Memory, hc.PidsLimit, hc.NanoCPUs, tc.mem, tc.pids, tc.nano)
		}
	}
}
