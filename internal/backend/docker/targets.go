package docker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// Targets finds what the agent of slug must not reach on this engine: the
// host's addresses (this machine's interfaces and the gateway of every
// engine network but the bottles' sealed ones), the gateways of every
// network the agent is on, and its proxy.
func (d *Docker) Targets(ctx context.Context, slug string) (backend.Targets, error) {
	var t backend.Targets
	id, err := d.agentID(ctx, slug)
	if err != nil {
		return t, fmt.Errorf("finding the agent of %s: %w", slug, err)
	}
	in, err := d.eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return t, fmt.Errorf("inspecting the agent of %s: %w", slug, err)
	}
	ctr := in.Container
	if ctr.State == nil || !ctr.State.Running {
		return t, fmt.Errorf("the agent of %s is not running", slug)
	}
	if ctr.Config != nil {
		for _, kv := range ctr.Config.Env {
			if k, v, ok := strings.Cut(kv, "="); ok && (k == "HTTPS_PROXY" || k == "https_proxy") && v != "" {
				t.Proxy = v
			}
		}
	}
	agentNets := map[string]bool{}
	if ctr.NetworkSettings != nil {
		for name, ep := range ctr.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			agentNets[ep.NetworkID] = true
			agentNets[name] = true
			t.Gateways = append(t.Gateways, ep.Gateway, ep.IPv6Gateway)
			t.AgentAddrs = append(t.AgentAddrs, ep.IPAddress, ep.GlobalIPv6Address)
		}
	}
	ns, err := d.eng.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return t, fmt.Errorf("listing networks: %w", err)
	}
	for _, n := range ns.Items {
		sealed := n.Labels[backend.LabelRole] == backend.RoleInternal
		for _, c := range n.IPAM.Config {
			switch {
			case agentNets[n.ID] || agentNets[n.Name]:
				t.Gateways = append(t.Gateways, c.Gateway)
			case !sealed:
				t.HostAddrs = append(t.HostAddrs, c.Gateway)
			}
		}
	}
	t.HostAddrs = append(t.HostAddrs, localAddrs()...)
	t.Gateways, t.AgentAddrs = uniq(t.Gateways), uniq(t.AgentAddrs)
	var host []netip.Addr
	for _, a := range uniq(t.HostAddrs) {
		if !slices.Contains(t.Gateways, a) {
			host = append(host, a)
		}
	}
	t.HostAddrs = host
	t.FixHints = d.fixHints()
	return t, nil
}

// fixHints are the engine's commands for attestation's leak categories;
// Podman's CLI takes the same ones.
func (d *Docker) fixHints() map[string]string {
	cli := d.Name()
	return map[string]string{
		"host": "check `" + cli + " inspect -f '{{json .NetworkSettings.Networks}}' <agent container>` " +
			"and `" + cli + " network disconnect` anything but the bottle's internal network" +
			" (Docker: the internal network's bridge option com.docker.network.bridge.inhibit_ipv4=true, which bot-bottle sets)",
		"route":    "`" + cli + " network disconnect` every other network from the agent container; check daemon.json defaults",
		"resolver": "on Docker, Engine 26.0.2 or later fixes CVE-2024-29018",
	}
}

// uniq drops invalid, loopback and unspecified addresses and repeats,
// sorted.
func uniq(as []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range as {
		if a.IsValid() && !a.IsLoopback() && !a.IsUnspecified() {
			out = append(out, a.Unmap())
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

// localAddrs are this machine's addresses, for an engine on this machine.
func localAddrs() []netip.Addr {
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range ifs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.IsLinkLocalUnicast() {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}
