package podman

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// Targets is the Docker backend's, plus the IPv6 link-local addresses the
// host holds on the bridge of the agent's internal network, as the agent
// would dial them (zone eth0, its one interface). The bridge holds no IPv4
// address (CNI, isGateway false), but the kernel gives it a link-local
// IPv6 one; an agent with IPv6 on reaches a host listener on [::] there
// (an agent under runsc did, before runsc-podman applied its sysctls).
// The Docker backend leaves link-local addresses out of the host's. Only
// for a service on this machine (a unix socket): the bridge is a local
// interface.
func (p *Podman) Targets(ctx context.Context, slug string) (backend.Targets, error) {
	t, err := p.Docker.Targets(ctx, slug)
	if err != nil || p.host == "" {
		return t, err
	}
	f := client.Filters{}.Add("label", backend.LabelSlug+"="+slug).Add("label", backend.LabelRole+"="+backend.RoleInternal)
	ns, err := p.eng.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return t, fmt.Errorf("listing the internal network of %s: %w", slug, err)
	}
	for _, n := range ns.Items {
		name, err := bridgeOf(ctx, p.host, n.Name)
		if err != nil {
			return t, fmt.Errorf("finding the bridge of %s: %w", n.Name, err)
		}
		addrs, err := linkLocal(name)
		if err != nil {
			return t, fmt.Errorf("reading the addresses of %s, the bridge of %s: %w", name, n.Name, err)
		}
		t.Gateways = append(t.Gateways, addrs...)
	}
	return t, nil
}

// bridgeOf is the host interface of a Podman network (libpod's network
// inspect; the compatible API does not name it).
func bridgeOf(ctx context.Context, host, network string) (string, error) {
	var w struct {
		Interface string `json:"network_interface"`
	}
	err := libpodGet(ctx, host, "/networks/"+url.PathEscape(network)+"/json", func(r io.Reader) error {
		return json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&w)
	})
	if err == nil && w.Interface == "" {
		err = fmt.Errorf("podman names no interface for network %s", network)
	}
	return w.Interface, err
}

// linkLocal are interface name's IPv6 link-local addresses, zoned for
// the agent's eth0.
func linkLocal(name string) ([]netip.Addr, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	as, err := ifc.Addrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Is6() && !ip.Is4In6() && ip.IsLinkLocalUnicast() {
			out = append(out, ip.WithZone("eth0"))
		}
	}
	return out, nil
}
