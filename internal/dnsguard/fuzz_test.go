package dnsguard

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzAnswer feeds agent-controlled wire messages to the resolver's
// decision: it must never panic, must always produce a packable reply with
// the request's id, and must answer only sidecar names, only with self.
func FuzzAnswer(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"egress.", dns.TypeA}, {"example.com.", dns.TypeA}, {"supervise.", dns.TypeAAAA},
		{"a.b.c.d.e.f.", dns.TypeTXT}, {"git-gate.", dns.TypeANY},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0})

	ans, err := newAnswerer([]string{"extra.internal"}, DefaultTTL)
	if err != nil {
		f.Fatal(err)
	}
	self := netip.MustParseAddr("10.1.2.3")
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := new(dns.Msg)
		if req.Unpack(wire) != nil {
			return
		}
		resp, out := ans.answer(req, self)
		if out.Refused {
			// Whatever the name holds, a refusal is one JSON line.
			var buf bytes.Buffer
			l := &refusalLog{w: &buf, limit: 10, now: time.Now}
			l.refused(req, nil, out.Reason)
			if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 || !json.Valid(bytes.TrimSpace(buf.Bytes())) {
				t.Fatalf("refusal logged as %q", buf.String())
			}
		}
		if resp.Id != req.Id || !resp.Response {
			t.Fatalf("reply id %d response %v for request %d", resp.Id, resp.Response, req.Id)
		}
		if _, err := resp.Pack(); err != nil {
			t.Fatalf("reply does not pack: %v", err)
		}
		if out.Refused && (resp.Rcode == dns.RcodeSuccess || len(resp.Answer) > 0) {
			t.Fatalf("refused query answered: %v", resp)
		}
		if len(resp.Ns) > 0 || len(resp.Extra) > 0 || len(resp.Answer) > 1 {
			t.Fatalf("reply carries extra records: %v", resp)
		}
		for _, rr := range resp.Answer {
			a, ok := rr.(*dns.A)
			if !ok || a.A.String() != self.String() {
				t.Fatalf("answer %v is not an A record for self", rr)
			}
			name := strings.TrimSuffix(strings.ToLower(a.Hdr.Name), ".")
			if !ans.names[name] {
				t.Fatalf("answered a name that is not a sidecar name: %q", a.Hdr.Name)
			}
		}
	})
}
