package dnsguard

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkAnswer is the resolver's decision alone.
func BenchmarkAnswer(b *testing.B) {
	ans, err := newAnswerer(nil, DefaultTTL)
	if err != nil {
		b.Fatal(err)
	}
	self := netip.MustParseAddr("10.1.2.3")
	for _, name := range []string{"egress.", "exfil.attacker.example."} {
		req := new(dns.Msg)
		req.SetQuestion(name, dns.TypeA)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				ans.answer(req, self)
			}
		})
	}
}

// BenchmarkUDPQuery is one query and its answer over loopback UDP.
func BenchmarkUDPQuery(b *testing.B) {
	_, addr := start(b, Config{LogLimit: 1})
	c := &dns.Client{Timeout: 5 * time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for _, name := range []string{"egress.", "exfil.attacker.example."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := c.ExchangeWithConn(m, conn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
