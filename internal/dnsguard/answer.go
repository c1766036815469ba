// Package dnsguard is the agent's only resolver: it answers the sidecar's
// names with the sidecar's own address and refuses every other question, so
// raw DNS cannot carry data out of a bottle. It never forwards a query.
package dnsguard

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Outcome is what the resolver decided for one query, with a reason: the
// decision value that is logged.
type Outcome struct {
	// Refused is true when the name is not a sidecar name (logged).
	Refused bool
	// Reason says why the response is what it is.
	Reason string
}

// DefaultNames are the sidecar's aliases on the bottle network (DESIGN.md,
// the sidecar contract). The resolver always answers them.
func DefaultNames() []string { return []string{"egress", "supervise", "git-gate"} }

// answerer holds the names the resolver answers, normalised.
type answerer struct {
	names map[string]bool
	ttl   uint32
}

func newAnswerer(extra []string, ttl uint32) (answerer, error) {
	a := answerer{names: map[string]bool{}, ttl: ttl}
	for _, n := range append(DefaultNames(), extra...) {
		norm, err := normaliseName(n)
		if err != nil {
			return answerer{}, fmt.Errorf("configuring name %q: %w", n, err)
		}
		a.names[norm] = true
	}
	return a, nil
}

// normaliseName lower-cases a configured name and drops a trailing dot. It
// must be a valid domain name without wildcards.
func normaliseName(n string) (string, error) {
	n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
	if n == "" {
		return "", fmt.Errorf("empty name")
	}
	if _, ok := dns.IsDomainName(n); !ok || strings.ContainsAny(n, "*\\ ") {
		return "", fmt.Errorf("not a domain name")
	}
	return n, nil
}

// answer builds the response to req. self is the sidecar's IPv4 address as
// the client sees it; an invalid self makes alias A queries fail with
// SERVFAIL rather than answer something wrong.
func (a answerer) answer(req *dns.Msg, self netip.Addr) (*dns.Msg, Outcome) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = false
	// Never echo EDNS options or anything else back.
	resp.Answer, resp.Ns, resp.Extra = nil, nil, nil

	if req.Opcode != dns.OpcodeQuery {
		resp.Rcode = dns.RcodeNotImplemented
		return resp, Outcome{Refused: true, Reason: "opcode not supported"}
	}
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp, Outcome{Refused: true, Reason: "expected exactly one question"}
	}
	q := req.Question[0]
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	if !a.names[name] {
		resp.Rcode = dns.RcodeRefused
		return resp, Outcome{Refused: true, Reason: "not a sidecar name"}
	}
	if q.Qclass != dns.ClassINET {
		resp.Rcode = dns.RcodeRefused
		return resp, Outcome{Refused: true, Reason: "class not IN"}
	}
	resp.Authoritative = true
	switch q.Qtype {
	case dns.TypeA:
		if !self.Is4() {
			resp.Rcode = dns.RcodeServerFailure
			return resp, Outcome{Reason: "sidecar address unknown"}
		}
		resp.Answer = []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: a.ttl},
			A:   self.AsSlice(),
		}}
		return resp, Outcome{Reason: "sidecar name"}
	default:
		// NODATA: the name exists, the type does not (AAAA included: the
		// bottle network is IPv4).
		return resp, Outcome{Reason: "sidecar name, no data of this type"}
	}
}
