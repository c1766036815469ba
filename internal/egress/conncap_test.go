package egress

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestConnectionCap: with MaxConns connections open, one more is answered
// 503 too-many-connections with the reason and closed, at once; when one
// of them closes, a new connection is served again.
func TestConnectionCap(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, inboundPolicy, func(c *Config) { c.MaxConns = 3 })
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", p.url.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// One more: refused, not queued. The proxy counts the three once it
	// accepted them, so try until the refusal comes.
	var resp *http.Response
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", p.url.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET http://up.example.com:%s/ HTTP/1.1\r\nHost: up.example.com\r\n\r\n", up.port)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err = http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatalf("the connection over the cap got no answer: %v", err)
		}
		if resp.StatusCode == 503 || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get(RefusalHeader) != string(CodeTooManyConnections) || !strings.Contains(string(body), "--max-connections") {
		t.Fatalf("over the cap: %s %q\n%s", resp.Status, resp.Header.Get(RefusalHeader), body)
	}
	if !strings.Contains(p.logText(), `"code":"too-many-connections"`) {
		t.Fatal("the refusal was not logged")
	}
	// Hang one up: a new agent request is served again.
	held[0].Close()
	c := p.client(t)
	for i := 0; ; i++ {
		st, code, _, err := do(t, c, newReq(t, "GET", "https://up.example.com:"+up.port+"/x", nil))
		if err == nil && st == 200 {
			break
		}
		if i == 100 {
			t.Fatalf("after a connection closed: %d %q %v", st, code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTunnelSessionResumed: an agent that opens a new connection per
// request resumes its TLS session with the proxy (every tunnel shares the
// ticket keys), and a resumed handshake is still held to the CONNECT
// host: a ticket from one host's tunnel offered with that host's name in
// a tunnel to another host is refused.
func TestTunnelSessionResumed(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy+"    - host: other.example.com\n", nil)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.srv.CACertPEM())
	cache := tls.NewLRUClientSessionCache(8)
	hello := func(target, sni string) (*tls.Conn, error) {
		raw := connect(t, p, target)
		tc := tls.Client(raw, &tls.Config{ServerName: sni, RootCAs: roots, ClientSessionCache: cache, NextProtos: []string{"http/1.1"}})
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		return tc, tc.Handshake()
	}
	get := func(tc *tls.Conn) {
		fmt.Fprintf(tc, "GET /v1/x HTTP/1.1\r\nHost: up.example.com:%s\r\nConnection: close\r\n\r\n", up.port)
		resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET in the tunnel: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body) // the session ticket arrives after the handshake
		tc.Close()
	}
	target := "up.example.com:" + up.port
	tc, err := hello(target, "up.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if tc.ConnectionState().DidResume {
		t.Fatal("the first connection resumed")
	}
	get(tc)
	tc, err = hello(target, "up.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !tc.ConnectionState().DidResume {
		t.Fatal("the second connection did not resume its session")
	}
	get(tc)
	// The ticket for up.example.com, offered in a tunnel to other.example.com.
	if tc, err := hello("other.example.com:"+up.port, "up.example.com"); err == nil {
		tc.Close()
		t.Fatalf("a handshake naming up.example.com in a tunnel to other.example.com passed (resumed %v)", tc.ConnectionState().DidResume)
	}
	if !strings.Contains(p.logText(), "does not match CONNECT host other.example.com") {
		t.Fatal("the SNI mismatch was not logged")
	}
}
