package dnsguard

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// logLines reads the resolver's JSON log lines.
func logLines(t *testing.T, log *testenv.LockedBuffer) []refusalLine {
	t.Helper()
	var out []refusalLine
	for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if l == "" {
			continue
		}
		var r refusalLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// start runs a resolver on loopback and returns it with its address.
func start(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("resolver stopped before ready: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	udp, tcp := s.Addrs()
	if udp.String() != tcp.String() {
		t.Fatalf("udp %s and tcp %s differ", udp, tcp)
	}
	return s, udp.String()
}

func query(t *testing.T, proto, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", proto, name, err)
	}
	if r.Id != m.Id {
		t.Fatalf("response id %d, want %d", r.Id, m.Id)
	}
	return r
}

func aRecords(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.Hdr.Name+" "+a.A.String())
		} else {
			out = append(out, rr.String())
		}
	}
	return out
}

func TestResolverAnswersAliasesAndRefusesTheRest(t *testing.T) {
	log := &testenv.LockedBuffer{}
	_, addr := start(t, Config{Names: []string{"Gate.Internal."}, Log: log})

	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			tests := []struct {
				name  string
				qtype uint16
				rcode int
				want  []string
			}{
				{"egress", dns.TypeA, dns.RcodeSuccess, []string{"egress. 127.0.0.1"}},
				{"SUPERVISE", dns.TypeA, dns.RcodeSuccess, []string{"SUPERVISE. 127.0.0.1"}},
				{"git-gate", dns.TypeA, dns.RcodeSuccess, []string{"git-gate. 127.0.0.1"}},
				{"gate.internal", dns.TypeA, dns.RcodeSuccess, []string{"gate.internal. 127.0.0.1"}},
				{"egress", dns.TypeAAAA, dns.RcodeSuccess, nil},
				{"egress", dns.TypeTXT, dns.RcodeSuccess, nil},
				{"example.com", dns.TypeA, dns.RcodeRefused, nil},
				{"secret-data.attacker.example", dns.TypeTXT, dns.RcodeRefused, nil},
				{"egress.example.com", dns.TypeA, dns.RcodeRefused, nil},
				{"localhost", dns.TypeA, dns.RcodeRefused, nil},
			}
			for _, tt := range tests {
				r := query(t, proto, addr, tt.name, tt.qtype)
				if r.Rcode != tt.rcode {
					t.Errorf("%s %s: rcode %s, want %s", tt.name, dns.Type(tt.qtype),
						dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if diff := cmp.Diff(tt.want, aRecords(r)); diff != "" {
					t.Errorf("%s %s: answers (-want +got):\n%s", tt.name, dns.Type(tt.qtype), diff)
				}
				if r.RecursionAvailable || len(r.Ns) > 0 || len(r.Extra) > 0 {
					t.Errorf("%s: response carries more than the answer: %v", tt.name, r)
				}
			}
		})
	}

	var got []string
	for _, l := range logLines(t, log) {
		if l.Reason != "not a sidecar name" || l.Client == "" || l.Time == "" {
			t.Errorf("log line %+v lacks reason, client or time", l)
		}
		got = append(got, l.Name+" "+l.Type)
	}
	want := []string{
		"example.com. A", "secret-data.attacker.example. TXT", "egress.example.com. A", "localhost. A",
		"example.com. A", "secret-data.attacker.example. TXT", "egress.example.com. A", "localhost. A",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refused names logged (-want +got):\n%s", diff)
	}
}

func TestResolverAnswersConfiguredSelf(t *testing.T) {
	_, addr := start(t, Config{Self: netip.MustParseAddr("10.99.0.2")})
	r := query(t, "udp", addr, "egress", dns.TypeA)
	if diff := cmp.Diff([]string{"egress. 10.99.0.2"}, aRecords(r)); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if r.Answer[0].Header().Ttl != DefaultTTL {
		t.Errorf("ttl %d, want %d", r.Answer[0].Header().Ttl, DefaultTTL)
	}
}

func TestResolverRefusesOddQueries(t *testing.T) {
	log := &testenv.LockedBuffer{}
	_, addr := start(t, Config{Log: log})
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}

	// Two questions in one message.
	m := new(dns.Msg)
	m.SetQuestion("egress.", dns.TypeA)
	m.Question = append(m.Question, dns.Question{Name: "example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeFormatError || len(r.Answer) != 0 {
		t.Errorf("two questions: rcode %s answers %v, want FORMERR and none", dns.RcodeToString[r.Rcode], r.Answer)
	}

	// A sidecar name in the CHAOS class.
	m = new(dns.Msg)
	m.SetQuestion("egress.", dns.TypeA)
	m.Question[0].Qclass = dns.ClassCHAOS
	r, _, err = c.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("chaos class: rcode %s answers %v, want REFUSED and none", dns.RcodeToString[r.Rcode], r.Answer)
	}

	// An EDNS query for an outside name: refused, no OPT echoed.
	m = new(dns.Msg)
	m.SetQuestion("exfil.example.", dns.TypeA)
	m.SetEdns0(4096, true)
	r, _, err = c.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("edns query: rcode %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	// The two-question message is turned away by the DNS library before
	// it is parsed, so only the other two are logged.
	if n := len(logLines(t, log)); n != 2 {
		t.Errorf("logged %d lines, want 2", n)
	}
}

func TestResolverAppendsToLogPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dns.jsonl")
	if err := os.WriteFile(path, []byte(`{"name":"earlier."}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, addr := start(t, Config{LogPath: path})
	query(t, "udp", addr, "leak.example", dns.TypeA)
	// The line is written before the reply is sent.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"name":"leak.example."`) {
		t.Errorf("log file:\n%s", data)
	}
}

func TestRunFailsWhenPortIsTaken(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := New(Config{Listen: pc.LocalAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "starting dns") {
		t.Fatalf("Run on a taken port: %v, want a starting dns error", err)
	}
	select {
	case <-s.Ready():
		t.Error("ready closed although the resolver never listened")
	default:
	}
}

func TestShutdownClosesListeners(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()
	_, tcp := s.Addrs()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
	if c, err := net.Dial("tcp", tcp.String()); err == nil {
		c.Close()
		t.Fatal("tcp listener still open after shutdown")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"wildcard name": {Names: []string{"*.example.com"}},
		"empty name":    {Names: []string{""}},
		"space":         {Names: []string{"a b"}},
		"ipv6 self":     {Self: netip.MustParseAddr("::1")},
		"bad listen":    {Listen: "nonsense"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestOnSubnetPicksTheClientsNetwork(t *testing.T) {
	ifaddrs := []net.Addr{
		&net.IPNet{IP: net.ParseIP("127.0.0.1"), Mask: net.CIDRMask(8, 32)},
		&net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)},
		&net.IPNet{IP: net.ParseIP("172.30.0.2"), Mask: net.CIDRMask(16, 32)},
		&net.IPNet{IP: net.ParseIP("10.200.0.3"), Mask: net.CIDRMask(24, 32)},
	}
	for client, want := range map[string]string{
		"10.200.0.7":  "10.200.0.3",
		"172.30.5.9":  "172.30.0.2",
		"192.168.1.1": "invalid IP",
	} {
		got := onSubnet(ifaddrs, netip.MustParseAddr(client))
		if got.String() != want {
			t.Errorf("client %s: self %s, want %s", client, got, want)
		}
	}
}

func TestRefusalLogIsRateLimited(t *testing.T) {
	var buf testenv.LockedBuffer
	now := time.Unix(1000, 0)
	l := &refusalLog{w: &buf, limit: 2, now: func() time.Time { return now }}
	m := new(dns.Msg)
	m.SetQuestion("x.example.", dns.TypeA)
	for range 5 {
		l.refused(m, nil, "not a sidecar name")
	}
	now = now.Add(time.Second)
	l.refused(m, nil, "not a sidecar name")
	lines := logLines(t, &buf)
	if len(lines) != 3 {
		t.Fatalf("wrote %d lines, want 3: %+v", len(lines), lines)
	}
	if lines[2].Suppressed != 3 {
		t.Errorf("suppressed %d, want 3", lines[2].Suppressed)
	}
}
