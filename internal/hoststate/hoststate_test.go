package hoststate

import "testing"

// The paths are a contract (DESIGN.md, Host state): other parts and older
// bottles find their files by them.
func TestPaths(t *testing.T) {
	d := New("/home/u")
	b := d.Bottle("impl-k3x9q")
	for got, want := range map[string]string{
		d.Root():              "/home/u/.bot-bottle",
		d.Bottles():           "/home/u/.bot-bottle/bottles",
		d.Agents():            "/home/u/.bot-bottle/agents",
		d.Contrib():           "/home/u/.bot-bottle/contrib",
		d.Audit("impl-k3x9q"): "/home/u/.bot-bottle/audit/impl-k3x9q.jsonl",
		b.Root():              "/home/u/.bot-bottle/state/impl-k3x9q",
		b.Metadata():          "/home/u/.bot-bottle/state/impl-k3x9q/metadata.json",
		b.CA():                "/home/u/.bot-bottle/state/impl-k3x9q/ca",
		b.AgentCA():           "/home/u/.bot-bottle/state/impl-k3x9q/agent-ca",
		b.Policy():            "/home/u/.bot-bottle/state/impl-k3x9q/egress/policy.yaml",
		b.Approved():          "/home/u/.bot-bottle/state/impl-k3x9q/egress/approved.yaml",
		b.Queue():             "/home/u/.bot-bottle/state/impl-k3x9q/supervise/queue",
		b.CurrentConfig():     "/home/u/.bot-bottle/state/impl-k3x9q/supervise/current-config",
		b.SidecarConfig():     "/home/u/.bot-bottle/state/impl-k3x9q/sidecar/sidecar.json",
		b.SSH():               "/home/u/.bot-bottle/state/impl-k3x9q/ssh",
		b.Logs():              "/home/u/.bot-bottle/state/impl-k3x9q/logs",
		b.Capabilities():      "/home/u/.bot-bottle/state/impl-k3x9q/capabilities/approved.Dockerfile",
		b.CapabilitiesBuilt(): "/home/u/.bot-bottle/state/impl-k3x9q/capabilities/built.json",
		b.OperatorLock():      "/home/u/.bot-bottle/state/impl-k3x9q/supervise/.operator.lock",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}
