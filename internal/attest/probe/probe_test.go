package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func run(t *testing.T, s Spec) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return Run(ctx, s)
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := ln.Addr().String()
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := ln2.Addr().String()
	ln2.Close()
	defer ln.Close()

	if r := run(t, Spec{Kind: KindTCP, Addr: open}); !r.Leaked || r.Got != "connected" {
		t.Errorf("listener: %+v, want leaked connected", r)
	}
	if r := run(t, Spec{Kind: KindTCP, Addr: closedAddr}); r.Leaked || !strings.Contains(r.Got, "refused") {
		t.Errorf("closed port: %+v, want closed, refused", r)
	}
	// An outside address is decided by the attempt, not by the route to
	// it: refused is closed, accepted is the leak.
	if r := run(t, Spec{Kind: KindTCP, Addr: closedAddr, Outside: true}); r.Leaked || !strings.Contains(r.Got, "refused") {
		t.Errorf("outside address that refuses: %+v, want closed, refused", r)
	}
	if r := run(t, Spec{Kind: KindTCP, Addr: open, Outside: true}); !r.Leaked {
		t.Errorf("outside address that accepts: %+v, want leaked", r)
	}
}

// dnsServer answers every A question on loopback with rcode, plus a
// record when rcode is success.
func dnsServer(t *testing.T, rcode int) string { return dnsServerAt(t, "127.0.0.1:0", rcode) }

// dnsServerAt is dnsServer on addr (udp and tcp).
func dnsServerAt(t *testing.T, addr string, rcode int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, m *dns.Msg) {
		r := new(dns.Msg)
		r.SetRcode(m, rcode)
		if rcode == dns.RcodeSuccess {
			rr, _ := dns.NewRR(m.Question[0].Name + " 60 IN A 192.0.2.7")
			r.Answer = append(r.Answer, rr)
		}
		w.WriteMsg(r)
	})
	us := &dns.Server{PacketConn: pc, Handler: h}
	ts := &dns.Server{Listener: ln, Handler: h}
	go us.ActivateAndServe()
	go ts.ActivateAndServe()
	t.Cleanup(func() { us.Shutdown(); ts.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDNS(t *testing.T) {
	answering := dnsServer(t, dns.RcodeSuccess)
	refusing := dnsServer(t, dns.RcodeRefused)
	for _, n := range []string{"udp", "tcp"} {
		t.Run(n, func(t *testing.T) {
			if r := run(t, Spec{Kind: KindDNS, Addr: answering, Net: n, Name: "example.com"}); !r.Leaked || !strings.Contains(r.Got, "192.0.2.7") {
				t.Errorf("answering resolver: %+v, want leaked with the record", r)
			}
			if r := run(t, Spec{Kind: KindDNS, Addr: refusing, Net: n, Name: "example.com"}); r.Leaked || !strings.Contains(r.Got, "REFUSED") {
				t.Errorf("refusing resolver: %+v, want closed REFUSED", r)
			}
			// A resolver outside the bottle must not answer at all.
			if r := run(t, Spec{Kind: KindDNS, Addr: refusing, Net: n, Name: "example.com", Outside: true}); !r.Leaked {
				t.Errorf("outside resolver that answers: %+v, want leaked", r)
			}
		})
	}
}

func TestUDPAnswered(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		b := make([]byte, 2048)
		n, from, err := pc.ReadFrom(b)
		if err == nil && n > 0 {
			pc.WriteTo([]byte("pong"), from)
		}
	}()
	if r := run(t, Spec{Kind: KindUDP, Addr: pc.LocalAddr().String()}); !r.Leaked || r.Got != "answered" {
		t.Errorf("%+v, want leaked answered", r)
	}
	ln, _ := net.ListenPacket("udp", "127.0.0.1:0")
	silent := ln.LocalAddr().String()
	ln.Close()
	if r := run(t, Spec{Kind: KindUDP, Addr: silent, Outside: true}); r.Leaked || !strings.Contains(r.Got, "no answer") {
		t.Errorf("outside address that never answers: %+v, want closed, no answer", r)
	}
}

func TestUnknownKindFails(t *testing.T) {
	if r := run(t, Spec{Kind: "teleport"}); !r.Failed || r.Leaked {
		t.Errorf("%+v, want failed", r)
	}
}

// proxy is a stand-in for the egress proxy. A strict one refuses every
// CONNECT but to allowed, and every request inside a tunnel whose Host is
// not allowed, with the refusal header; a lax one forwards everything to a
// server that answers 200 with a DNS message.
func proxy(t *testing.T, strict bool, allowed string) string {
	t.Helper()
	cert := httptest.NewTLSServer(http.NotFoundHandler()).TLS.Certificates[0]
	answer := func(w http.ResponseWriter, r *http.Request) {
		if strict && r.Host != allowed {
			w.Header().Set(RefusalHeader, "host-mismatch")
			w.WriteHeader(http.StatusForbidden)
			return
		}
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeA)
		m.Response = true
		b, _ := m.Pack()
		w.Write(b)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			if r.URL.Host == "_egress.local" {
				json.NewEncoder(w).Encode(map[string]any{"routes": []map[string]string{{"host": "*.wild.example"}, {"host": allowed}}})
				return
			}
			if strict {
				w.Header().Set(RefusalHeader, "ip-literal")
				w.WriteHeader(http.StatusForbidden)
				return
			}
			answer(w, r)
			return
		}
		host, _, _ := net.SplitHostPort(r.Host)
		if strict && host != allowed {
			w.Header().Set(RefusalHeader, "not-allowed")
			w.WriteHeader(http.StatusForbidden)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		brw.Flush()
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		br := bufio.NewReader(tc)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		answer(rec, req)
		res := rec.Result()
		res.Write(tc)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestProxyProbes(t *testing.T) {
	const allowed = "allowed.test"
	specs := []Spec{
		{Kind: KindDoH, URL: "https://dns.example/dns-query", Name: "example.com"},
		{Kind: KindConnect, Addr: "192.0.2.1:853"},
		{Kind: KindProxyGet, URL: "http://169.254.169.254/latest/meta-data/"},
		{Kind: KindHostSNI, Name: "169.254.169.254"},
		{Kind: KindRelay, Addr: "192.0.2.1:443"},
	}
	for _, tc := range []struct {
		name   string
		strict bool
	}{{"strict proxy", true}, {"lax proxy", false}} {
		t.Run(tc.name, func(t *testing.T) {
			px := proxy(t, tc.strict, allowed)
			for _, s := range specs {
				s.Proxy = px
				r := run(t, s)
				if r.Leaked == tc.strict || r.Failed || r.NotApplicable {
					t.Errorf("%s: %+v; want leaked=%v", s.Kind, r, !tc.strict)
				}
				if tc.strict && !strings.Contains(r.Got, "refused by the proxy") {
					t.Errorf("%s: got %q, want the proxy's refusal", s.Kind, r.Got)
				}
				if (s.Kind == KindHostSNI || s.Kind == KindRelay) && !strings.Contains(r.Got, "via "+allowed) {
					t.Errorf("%s: got %q, want it to tunnel via %s", s.Kind, r.Got, allowed)
				}
			}
		})
	}
}

func TestProxyProbesWithoutProxy(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := "http://" + ln.Addr().String()
	ln.Close()
	for _, k := range []Kind{KindDoH, KindConnect, KindProxyGet, KindHostSNI, KindRelay} {
		r := run(t, Spec{Kind: k, Proxy: gone, URL: "https://dns.example/dns-query", Addr: "192.0.2.1:443", Name: "x"})
		if r.Leaked || r.Failed {
			t.Errorf("%s with no proxy: %+v, want closed", k, r)
		}
	}
}

func TestNoAllowedHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"routes":[]}`)
	}))
	defer srv.Close()
	r := run(t, Spec{Kind: KindHostSNI, Proxy: srv.URL, Name: "x"})
	if !r.NotApplicable || r.Leaked {
		t.Errorf("%+v, want not applicable", r)
	}
}

func TestServe(t *testing.T) {
	in := `{"timeout_ms":500,"probes":[{"id":"a","kind":"ipv6-addresses"},{"id":"b","kind":"nope"}]}`
	var out strings.Builder
	if err := Serve(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	var resp Response
	if err := json.Unmarshal([]byte(out.String()), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 2 || resp.Results[0].ID != "a" || resp.Results[1].ID != "b" || !resp.Results[1].Failed {
		t.Errorf("results %+v", resp.Results)
	}
	if err := Serve(context.Background(), strings.NewReader(`{"probes":[],"extra":1}`), io.Discard); err == nil {
		t.Error("an unknown field was accepted")
	}
}

func TestNextHop(t *testing.T) {
	// /proc/net/route of a container on 10.215.3.0/28 with a default route
	// through 10.215.3.1.
	const table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t0103D70A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth0\t0003D70A\t00000000\t0001\t0\t0\t0\tF0FFFFFF\t0\t0\t0\n"
	for _, tc := range []struct {
		dst, gw string
		ok      bool
	}{
		{"1.1.1.1", "10.215.3.1", true},
		{"10.215.3.5", "", true}, // on-link
	} {
		gw, ok := nextHop(table, netip.MustParseAddr(tc.dst))
		got := ""
		if gw.IsValid() {
			got = gw.String()
		}
		if ok != tc.ok || got != tc.gw {
			t.Errorf("nextHop(%s) = %q, %v; want %q, %v", tc.dst, got, ok, tc.gw, tc.ok)
		}
	}
	if _, ok := nextHop(table[:strings.Index(table, "eth0\t0000")]+"eth0\t0003D70A\t00000000\t0001\t0\t0\t0\tF0FFFFFF\t0\t0\t0\n", netip.MustParseAddr("1.1.1.1")); ok {
		t.Error("a table without a default route routes 1.1.1.1")
	}
}
