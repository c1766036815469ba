// Package attest proves, before an agent's command runs and on demand
// (bot-bottle doctor), that the bottle's walls hold: it runs probes inside
// the agent container, as the agent's user, through every way out a
// sandbox like this one has been known to leak, and reports each probe
// that got out with what leaked and how to fix the host.
//
// The probes run as `bot-bottle attest-probe` (package attest/probe): the
// host's static binary, mounted read-only into the agent container at
// launch where the backend can (start), else copied in for the run, owned
// by root and read-only for the agent, and removed afterwards (doctor, a
// cluster). A listener on every host address (the canary) gives host-side
// evidence that does not depend on what the probe program says.
//
// Start attests in two halves (Begin, Finish): the agent's own network
// walls are probed as soon as its container runs, while the sidecar is
// still starting; the resolver and proxy probes run once the sidecar is
// ready. The verdict comes only from Finish, and the agent's command runs
// only after it said every probe stayed closed.
package attest

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/bot-bottle/bot-bottle/internal/attest/probe"
	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// Category groups checks that share a cause and a fix.
type Category string

const (
	CatHost     Category = "host"     // a host address or gateway answered
	CatRoute    Category = "route"    // an outside address answered the agent directly
	CatResolver Category = "resolver" // the container's resolver answered an outside name
	CatProxy    Category = "proxy"    // the egress proxy let something through
	CatIPv6     Category = "ipv6"     // the container has IPv6 addresses
)

// Fix is what to change on the host for a category of leak.
func Fix(c Category) string {
	switch c {
	case CatHost:
		return "the agent reached a host address. The bottle's internal network must hold no host address " +
			"(bot-bottle creates it so) and the agent must be on no other network: disconnect the agent container " +
			"from anything but the bottle's internal network; on an engine that gives the bridge a host address " +
			"anyway, drop traffic from the bridge to the host (iptables -I INPUT -i <bridge> -j DROP)"
	case CatRoute:
		return "the agent reached an address outside the bottle without the proxy. Its only way out must be the sidecar: " +
			"on an engine, the agent container must be on the bottle's internal network only (created internal, no gateway): " +
			"disconnect every other network from it and check that no engine plugin, compose override or engine default attaches one; " +
			"in a pod, the wall (the packet filter that lets only the sidecar's user out) must be loaded before the agent starts"
	case CatResolver:
		return "the container's resolver answered a name outside the bottle, so the engine's embedded DNS forwards " +
			"somewhere other than the sidecar. Upgrade the engine (older engines forward from the host's namespace, " +
			"as in CVE-2024-29018) and check that the agent's DNS server is the sidecar's address"
	case CatProxy:
		return "the egress proxy let this through. Check the bottle's egress routes (`bot-bottle start --dry-run`, " +
			"GET http://_egress.local/allowlist from inside) do not allow it, and update bot-bottle: the sidecar runs " +
			"the same binary"
	case CatIPv6:
		return "the agent has IPv6 and a route out over it. Disable IPv6 in the agent container " +
			"(sysctl net.ipv6.conf.all.disable_ipv6=1, which bot-bottle sets) or on the engine's networks"
	}
	return ""
}

// Targets is what the host knows about the places the agent must not
// reach; the backend finds them (backend.Backend.Targets).
type Targets = backend.Targets

// Defaults for the outside world. The probes only ever try to reach these
// from inside a bottle, where there is no route to them: one that gets an
// answer is the failure being detected.
const (
	DefaultOutsideName = "example.com"
	DefaultMetadata    = "169.254.169.254"
)

// Resolvers are well-known public resolvers, IPv4 and IPv6.
func Resolvers() []string {
	return []string{"1.1.1.1", "8.8.8.8", "9.9.9.9", "2606:4700:4700::1111", "2001:4860:4860::8888"}
}

// DoHURLs are well-known DNS-over-HTTPS endpoints.
func DoHURLs() []string {
	return []string{"https://cloudflare-dns.com/dns-query", "https://dns.google/dns-query", "https://dns.quad9.net/dns-query", "https://1.1.1.1/dns-query"}
}

// DoTHosts are well-known DNS-over-TLS servers.
func DoTHosts() []string { return []string{"1.1.1.1", "dns.google", "dns.quad9.net"} }

// Check is one row of the report: a probe, what it must show, and (after
// the run) what it showed.
type Check struct {
	Name     string       `json:"probe"`
	Category Category     `json:"category"`
	Spec     probe.Spec   `json:"-"`
	Result   probe.Result `json:"-"`
	// listener marks a check aimed at the host listener.
	listener bool
}

// Expected is what every check must show.
const Expected = "closed"

// Plan lists the checks for targets. canaryPort is the host listener's
// port (0: none).
func Plan(t Targets, canaryPort int) []Check {
	var cs []Check
	add := func(name string, cat Category, s probe.Spec) {
		s.ID = strconv.Itoa(len(cs))
		cs = append(cs, Check{Name: name, Category: cat, Spec: s})
	}
	listener := func(name string, addr netip.Addr, port string) {
		add(name+" "+net.JoinHostPort(addr.String(), port)+" (host listener)", CatHost,
			probe.Spec{Kind: probe.KindTCP, Addr: net.JoinHostPort(addr.String(), port)})
		cs[len(cs)-1].listener = true
	}
	if canaryPort > 0 {
		port := strconv.Itoa(canaryPort)
		for _, a := range uniq(t.HostAddrs) {
			listener("tcp to host address", a, port)
		}
		for _, a := range uniq(t.Gateways) {
			listener("tcp to gateway", a, port)
		}
	}
	for _, a := range t.ExtraTCP {
		add("tcp to "+a, CatHost, probe.Spec{Kind: probe.KindTCP, Addr: a})
	}

	name := DefaultOutsideName
	for _, n := range []string{"udp", "tcp"} {
		add("dns "+name+" via the container's resolver ("+n+")", CatResolver,
			probe.Spec{Kind: probe.KindDNS, Addr: "resolv.conf", Net: n, Name: name})
		add("dns "+name+" via the engine's resolver 127.0.0.11 ("+n+")", CatResolver,
			probe.Spec{Kind: probe.KindDNS, Addr: "127.0.0.11:53", Net: n, Name: name})
	}
	for _, r := range Resolvers() {
		cat := CatRoute
		if netip.MustParseAddr(r).Is6() {
			cat = CatIPv6
		}
		for _, n := range []string{"udp", "tcp"} {
			add("dns "+name+" direct to "+r+" ("+n+")", cat,
				probe.Spec{Kind: probe.KindDNS, Addr: net.JoinHostPort(r, "53"), Net: n, Name: name, Outside: true})
		}
		add("udp to "+net.JoinHostPort(r, "443")+" (QUIC)", cat,
			probe.Spec{Kind: probe.KindUDP, Addr: net.JoinHostPort(r, "443"), Outside: true})
		for _, p := range []string{"443", "853"} {
			add("tcp to "+net.JoinHostPort(r, p)+" direct", cat,
				probe.Spec{Kind: probe.KindTCP, Addr: net.JoinHostPort(r, p), Outside: true})
		}
	}
	add("ipv6 addresses of the container", CatIPv6, probe.Spec{Kind: probe.KindIPv6})

	if t.Proxy != "" {
		px := t.Proxy
		for _, u := range DoHURLs() {
			add("DNS-over-HTTPS "+u+" via the proxy", CatProxy, probe.Spec{Kind: probe.KindDoH, URL: u, Name: name, Proxy: px})
		}
		for _, h := range DoTHosts() {
			a := net.JoinHostPort(h, "853")
			add("DNS-over-TLS CONNECT "+a+" via the proxy", CatProxy, probe.Spec{Kind: probe.KindConnect, Addr: a, Proxy: px})
		}
		add("CONNECT to IP literal 1.1.1.1:443 via the proxy", CatProxy, probe.Spec{Kind: probe.KindConnect, Addr: "1.1.1.1:443", Proxy: px})
		for _, p := range []string{"80", "443"} {
			a := net.JoinHostPort(DefaultMetadata, p)
			add("CONNECT to metadata "+a+" via the proxy", CatProxy, probe.Spec{Kind: probe.KindConnect, Addr: a, Proxy: px})
		}
		u := "http://" + DefaultMetadata + "/latest/meta-data/"
		add("GET "+u+" via the proxy", CatProxy, probe.Spec{Kind: probe.KindProxyGet, URL: u, Proxy: px})
		add("Host "+DefaultMetadata+" inside a TLS tunnel to an allowed host", CatProxy,
			probe.Spec{Kind: probe.KindHostSNI, Name: DefaultMetadata, Proxy: px})
		add("CONNECT 1.1.1.1:443 relayed inside a tunnel to an allowed host", CatProxy,
			probe.Spec{Kind: probe.KindRelay, Addr: "1.1.1.1:443", Proxy: px})
	}
	return cs
}

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

// Specs are the probe specs of cs, in order.
func Specs(cs []Check) []probe.Spec {
	out := make([]probe.Spec, len(cs))
	for i, c := range cs {
		out[i] = c.Spec
	}
	return out
}

// label is a check's name for an error message.
func (c Check) label() string { return fmt.Sprintf("%s: %s", c.Name, c.Result.Got) }
