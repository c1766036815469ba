// Package probe is the half of bypass attestation that runs inside the
// agent container, as the agent's user: it tries each way out it is given,
// once, with a short timeout, and reports what happened. The host side
// (package attest) decides what to try and what the answers mean for the
// user; this package only knows how to try.
package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Kind is what a probe tries.
type Kind string

const (
	// KindTCP connects to Addr. Leak: the connection is accepted.
	KindTCP Kind = "tcp"
	// KindUDP sends one datagram to Addr. Leak: an answer came back.
	KindUDP Kind = "udp"
	// KindDNS asks the resolver at Addr for Name over Net (udp or tcp).
	// Leak: an answer with records, or (when Outside) any answer.
	KindDNS Kind = "dns"
	// KindDoH asks URL (DNS over HTTPS) through Proxy. Leak: a DNS answer.
	KindDoH Kind = "doh"
	// KindConnect sends CONNECT Addr to Proxy. Leak: a 2xx answer.
	KindConnect Kind = "connect"
	// KindProxyGet sends an absolute-form GET URL to Proxy. Leak: a 2xx
	// answer that the proxy did not mark as its own refusal.
	KindProxyGet Kind = "proxy-get"
	// KindHostSNI opens a tunnel to an allowed host through Proxy and sends
	// a request inside it whose Host is Name. Leak: the proxy forwards it.
	KindHostSNI Kind = "host-sni"
	// KindRelay opens a tunnel to an allowed host through Proxy and sends
	// CONNECT Addr inside it. Leak: the proxy forwards it.
	KindRelay Kind = "relay-connect"
	// KindIPv6 lists the container's IPv6 addresses. Never a leak by
	// itself; the host adds IPv6 targets when there are any.
	KindIPv6 Kind = "ipv6-addresses"
)

// Spec is one probe to run.
type Spec struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Addr is host:port (an IP literal for direct probes).
	Addr string `json:"addr,omitempty"`
	// Net is "udp" or "tcp" for DNS probes.
	Net string `json:"net,omitempty"`
	// Name is the DNS name asked for, or the Host of a host-sni request.
	Name string `json:"name,omitempty"`
	// URL is what a DoH or proxy-get probe fetches.
	URL string `json:"url,omitempty"`
	// Proxy is the proxy URL (http://egress:9099) for proxied probes.
	Proxy string `json:"proxy,omitempty"`
	// Via is the allowed host a host-sni or relay probe tunnels through
	// ("": the first plain host of the proxy's live route table).
	Via string `json:"via,omitempty"`
	// Outside marks an address beyond the bottle (a public resolver): the
	// probe tries to reach it through whatever route the container has,
	// and any answer from it, a DNS refusal included, is the leak. A route
	// alone is not: a pod has a default route and a wall in front of it.
	Outside bool `json:"outside,omitempty"`
}

// Result is what one probe saw.
type Result struct {
	ID string `json:"id"`
	// Leaked is true when the probe got out.
	Leaked bool `json:"leaked"`
	// Got is a short description of what happened ("connected",
	// "refused by the proxy (host-mismatch)", "no route").
	Got string `json:"got"`
	// NotApplicable marks a probe that had nothing to try (no allowed
	// host to tunnel through, no IPv6 address).
	NotApplicable bool `json:"not_applicable,omitempty"`
	// Failed marks a probe that could not run at all: not a pass.
	Failed bool `json:"failed,omitempty"`
	// Addrs lists addresses (KindIPv6).
	Addrs []string `json:"addrs,omitempty"`
}

// DefaultTimeout bounds one probe's attempt. A reachable target answers
// in milliseconds; the bound only decides how long silence takes.
const DefaultTimeout = time.Second

// Request is what the host sends the probe program on stdin.
type Request struct {
	// TimeoutMS bounds each probe (default DefaultTimeout).
	TimeoutMS int    `json:"timeout_ms"`
	Probes    []Spec `json:"probes"`
}

// Response is what the probe program writes on stdout.
type Response struct {
	Results []Result `json:"results"`
}

// Serve reads a Request from r, runs every probe concurrently and writes
// the Response to w.
func Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	var req Request
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("reading probe request: %w", err)
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	res := Response{Results: RunAll(ctx, req.Probes, timeout)}
	if err := json.NewEncoder(w).Encode(res); err != nil {
		return fmt.Errorf("writing probe results: %w", err)
	}
	return nil
}

// RunAll runs specs concurrently, each bounded by timeout, and returns
// their results in order.
func RunAll(ctx context.Context, specs []Spec, timeout time.Duration) []Result {
	out := make([]Result, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r := Run(pctx, s)
			r.ID = s.ID
			out[i] = r
		}()
	}
	wg.Wait()
	return out
}

// Run runs one probe. ctx carries its deadline.
func Run(ctx context.Context, s Spec) Result {
	switch s.Kind {
	case KindTCP:
		return probeTCP(ctx, s)
	case KindUDP:
		return probeUDP(ctx, s)
	case KindDNS:
		return probeDNS(ctx, s)
	case KindDoH:
		return probeDoH(ctx, s)
	case KindConnect:
		return probeConnect(ctx, s)
	case KindProxyGet:
		return probeProxyGet(ctx, s)
	case KindHostSNI:
		return probeHostSNI(ctx, s)
	case KindRelay:
		return probeRelay(ctx, s)
	case KindIPv6:
		return probeIPv6()
	}
	// An unknown probe is a failure the host must see, not a pass.
	return Result{Failed: true, Got: fmt.Sprintf("unknown probe kind %q", s.Kind)}
}
