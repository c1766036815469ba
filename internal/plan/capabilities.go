package plan

import (
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Capabilities is the plan of a capability build: each approved
// capability-block line runs with its network only through a build
// sidecar (egress with DLP, and the refusing resolver), whose policy is
// the bottle's egress routes followed by Routes.
type Capabilities struct {
	// Routes are the build allowance: the bottle's capabilities.routes,
	// or Debian's mirrors when no bottle has a capabilities key.
	Routes []manifest.Route `json:"routes"`
}

// CapabilityDaemons are what the build sidecar runs: the proxy and the
// resolver, nothing the lines could talk to besides.
var capabilityDaemons = []string{DaemonEgress, DaemonDNS}

// CapabilityPolicy is the build's egress policy: the bottle's routes, then
// the build allowance. Its log records every decision (level 1 at least),
// so a refused request of a build line is in the build's log.
func (p *Bottle) CapabilityPolicy() Egress {
	routes := append(slices.Clone(p.Egress.Routes), p.Capabilities.Routes...)
	return Egress{Routes: routes, Log: max(p.Egress.Log, 1)}
}

// CapabilitySidecar is the build sidecar's sidecar.json.
func (p *Bottle) CapabilitySidecar() SidecarConfig {
	e := p.CapabilityPolicy()
	return SidecarConfig{
		Slug:     p.Slug,
		Daemons:  slices.Clone(capabilityDaemons),
		LogLevel: e.Log,
		Routes:   e.Routes,
		Repos:    []SidecarRepo{},
		Aliases:  []string{EgressAlias},
		Ports:    Ports{Egress: EgressPort, Supervise: SupervisePort, GitGate: GitGatePort, DNS: DNSPort},
	}
}

// CapabilitySidecarEnv is the build sidecar's environment without
// secrets: the bottle sidecar's (its holds go to the bottle's queue, so
// the operator answers a build's DLP hold like any other), running only
// the proxy and the resolver.
func (p *Bottle) CapabilitySidecarEnv() map[string]string {
	env := map[string]string{}
	for k, v := range p.SidecarEnv {
		env[k] = v
	}
	env["BOT_BOTTLE_SIDECAR_DAEMONS"] = strings.Join(capabilityDaemons, ",")
	env["SUPERVISE_BOTTLE_SLUG"] = p.Slug
	env["SUPERVISE_QUEUE_DIR"] = SidecarQueueDir
	return env
}

// CapabilityMounts are the build sidecar's mounts: its own config, policy
// and logs under state/<slug>/capabilities/build/, the bottle's CA
// (read-only) and queue. Directories only, like the bottle's.
func (p *Bottle) CapabilityMounts() []Mount {
	st := hoststate.Bottle(p.StateDir)
	build := hoststate.Bottle(st.CapabilityBuild())
	return []Mount{
		{Container: "sidecar", Source: build.Sidecar(), Target: SidecarConfigDir, ReadOnly: true},
		{Container: "sidecar", Source: build.Egress(), Target: SidecarEgressDir, ReadOnly: true},
		{Container: "sidecar", Source: st.CA(), Target: SidecarCADir, ReadOnly: true},
		{Container: "sidecar", Source: st.Queue(), Target: SidecarQueueDir},
		{Container: "sidecar", Source: build.Logs(), Target: SidecarLogsDir},
		{Container: "agent", Source: st.AgentCA(), Target: AgentCADir, ReadOnly: true},
	}
}

// CapabilityHosts names what a build may reach, for a person: the hosts
// of the bottle's routes and of the allowance, each once, in order.
func (p *Bottle) CapabilityHosts() []string {
	var out []string
	for _, r := range p.CapabilityPolicy().Routes {
		if !slices.Contains(out, r.Host) {
			out = append(out, r.Host)
		}
	}
	return out
}
