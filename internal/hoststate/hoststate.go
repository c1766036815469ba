// Package hoststate names the paths under ~/.bot-bottle (DESIGN.md, Host
// state), so every part agrees on them. It only builds paths; it creates
// nothing.
package hoststate

import "path/filepath"

// Dir is the root of bot-bottle's host state: HOME/.bot-bottle.
type Dir string

// New returns the state root for a home directory.
func New(home string) Dir { return Dir(filepath.Join(home, ".bot-bottle")) }

// Root is the directory itself.
func (d Dir) Root() string { return string(d) }

// Bottles holds the bottle manifests (the only place bottles load from).
func (d Dir) Bottles() string { return filepath.Join(string(d), "bottles") }

// Agents holds the user's agent manifests.
func (d Dir) Agents() string { return filepath.Join(string(d), "agents") }

// Contrib holds plugins, one folder each.
func (d Dir) Contrib() string { return filepath.Join(string(d), "contrib") }

// StateRoot holds one folder per bottle, by slug.
func (d Dir) StateRoot() string { return filepath.Join(string(d), "state") }

// Audit is a bottle's audit log. It lives outside the bottle's state so no
// cleanup removes it.
func (d Dir) Audit(slug string) string {
	return filepath.Join(string(d), "audit", slug+".jsonl")
}

// Bottle returns the state paths of one bottle.
func (d Dir) Bottle(slug string) Bottle {
	return Bottle(filepath.Join(d.StateRoot(), slug))
}

// Bottle is one bottle's state folder, state/<slug>.
type Bottle string

// Root is the folder itself.
func (b Bottle) Root() string { return string(b) }

// Metadata is metadata.json: agent, bottles, backend, label, image, created.
func (b Bottle) Metadata() string { return filepath.Join(string(b), "metadata.json") }

// CA holds ca.pem and ca-key.pem (sidecar only).
func (b Bottle) CA() string { return filepath.Join(string(b), "ca") }

// AgentCA holds only ca.pem, for the agent.
func (b Bottle) AgentCA() string { return filepath.Join(string(b), "agent-ca") }

// Egress holds policy.yaml (live policy) and approved.yaml.
func (b Bottle) Egress() string { return filepath.Join(string(b), "egress") }

// Policy is the live egress policy the host rewrites (temp file + rename).
func (b Bottle) Policy() string { return filepath.Join(b.Egress(), "policy.yaml") }

// Approved holds the routes the operator approved, kept for resume.
func (b Bottle) Approved() string { return filepath.Join(b.Egress(), "approved.yaml") }

// Queue is the supervise queue: proposals and responses.
func (b Bottle) Queue() string { return filepath.Join(string(b), "supervise", "queue") }

// CurrentConfig is shown read-only to the agent.
func (b Bottle) CurrentConfig() string {
	return filepath.Join(string(b), "supervise", "current-config")
}

// Capabilities holds the approved capability-block lines, applied to the
// bottle's image at its next start.
func (b Bottle) Capabilities() string {
	return filepath.Join(string(b), "capabilities", "approved.Dockerfile")
}

// CapabilitiesBuilt records the last good capability build per base image.
func (b Bottle) CapabilitiesBuilt() string {
	return filepath.Join(string(b), "capabilities", "built.json")
}

// CapabilityBuild holds the capability build sidecar's own state
// (sidecar/, egress/ and logs/, like the bottle's).
func (b Bottle) CapabilityBuild() string {
	return filepath.Join(string(b), "capabilities", "build")
}

// OperatorLock serialises operator decisions on one bottle.
func (b Bottle) OperatorLock() string {
	return filepath.Join(string(b), "supervise", ".operator.lock")
}

// Sidecar holds sidecar.json.
func (b Bottle) Sidecar() string { return filepath.Join(string(b), "sidecar") }

// SidecarConfig is the sidecar's part of the plan.
func (b Bottle) SidecarConfig() string { return filepath.Join(b.Sidecar(), "sidecar.json") }

// SSH holds per-repo keys (0600) and known_hosts.
func (b Bottle) SSH() string { return filepath.Join(string(b), "ssh") }

// Logs holds the egress, dns and gate logs (JSON Lines).
func (b Bottle) Logs() string { return filepath.Join(string(b), "logs") }
