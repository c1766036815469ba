package egress

import (
	"bufio"
	"context"
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

// Red team: a hostile agent shapes requests so the proxy and the upstream
// read them differently, or so a refused request still leaves. Every case
// checks what the agent sees (status and refusal code) and what the
// upstream received. See docs/redteam.md.

const redTeamPolicy = `egress:
  routes:
    - host: up.example.com
      auth: {scheme: Bearer, token_ref: UP_TOKEN}
      dlp: {outbound_on_match: block}
      matches:
        - paths: [{type: prefix, value: /v1/}]
        - paths: [{type: prefix, value: /ro/}]
          headers: [{name: X-Mode, value: read}]
        - paths: [{type: prefix, value: /repo.git/}]
`

const heldToken = "real-upstream-token-0123456789abcdef"

// redTeamTunnel opens CONNECT to the upstream and a TLS session trusting
// the bottle CA. An empty sni sends no SNI.
func redTeamTunnel(t *testing.T, p *proxy, hostport, sni string, alpn ...string) *tls.Conn {
	t.Helper()
	conn := connect(t, p, hostport)
	roots := bottleRoots(p)
	cfg := &tls.Config{ServerName: sni, RootCAs: roots, NextProtos: alpn}
	if sni == "" {
		// Go sends no SNI without a ServerName; check the leaf by hand.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			c, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "up.example.com"})
			return err
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return tc
}

// redTeamSend writes raw bytes into c and reads up to n responses, each as
// "status code" (code = the refusal header, "-" when none).
func redTeamSend(t *testing.T, c net.Conn, raw string, n int) []string {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go io.WriteString(c, raw) // a large write may block until the proxy answers
	br := bufio.NewReader(c)
	var out []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		code := resp.Header.Get(RefusalHeader)
		if code == "" {
			code = "-"
		}
		out = append(out, fmt.Sprintf("%d %s", resp.StatusCode, code))
	}
	return out
}

// redTeamConnect sends CONNECT target on a fresh connection and returns
// the proxy's answer.
func redTeamConnect(t *testing.T, p *proxy, target string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", p.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// bottleRoots trusts the bottle CA only, as the agent does.
func bottleRoots(p *proxy) *x509.CertPool {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.srv.CACertPEM())
	return roots
}

type redTeamCase struct {
	name, raw string
	want      []string // "status code" per response
	upstream  int      // requests the upstream must receive
}

// runTunnelCases sends each case on a fresh tunnel to up.example.com.
func runTunnelCases(t *testing.T, p *proxy, up *upstream, cases []redTeamCase) {
	t.Helper()
	hp := "up.example.com:" + up.port
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := up.seen.count()
			tc := redTeamTunnel(t, p, hp, "up.example.com")
			raw := strings.ReplaceAll(c.raw, "HOST", hp)
			got := redTeamSend(t, tc, raw, len(c.want))
			if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
				t.Errorf("responses %q, want %q", got, c.want)
			}
			if n := up.seen.count() - before; n != c.upstream {
				t.Errorf("upstream received %d requests, want %d", n, c.upstream)
			}
		})
	}
}

// TestRedTeamPathTraversal: paths that stay under /v1/ for a naive prefix
// check but leave it on a server that cuts ;params (Tomcat), splits on
// backslashes (IIS) or decodes twice. They were forwarded; now refused.
func TestRedTeamPathTraversal(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	runTunnelCases(t, p, up, []redTeamCase{
		{"semicolon", "GET /v1/..;/admin HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 path"}, 0},
		{"backslash", "GET /v1/..\\admin HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 path"}, 0},
		{"encoded backslash", "GET /v1/..%5Cadmin HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 path"}, 0},
		{"double encoded", "GET /v1/%252e%252e/admin HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 path"}, 0},
		{"encoded", "GET /v1/%2e%2e/admin HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 path"}, 0},
		{"fullwidth dots", "GET /v1/%EF%BC%8E%EF%BC%8E/admin HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 path"}, 0},
		{"overlong UTF-8 dots", "GET /v1/%C0%AE%C0%AE/admin HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 path"}, 0},
		{"encoded slash", "GET /v1%2F..%2Fadmin HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 path"}, 0},
		{"mixed case path", "GET /V1/x HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 no-match"}, 0},
		{"double slash", "GET //v1/x HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 no-match"}, 0},
		{"plain", "GET /v1/a..b/.well-known HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"200 -"}, 1},
	})
}

// TestRedTeamHeaderMatch: a route that needs X-Mode: read. A second value,
// an _ spelling, or a Connection header that has the proxy drop X-Mode
// would let the upstream read another mode. They were forwarded; now
// refused.
func TestRedTeamHeaderMatch(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	runTunnelCases(t, p, up, []redTeamCase{
		{"read", "GET /ro/x HTTP/1.1\r\nHost: HOST\r\nX-Mode: read\r\n\r\n", []string{"200 -"}, 1},
		{"second value", "GET /ro/x HTTP/1.1\r\nHost: HOST\r\nX-Mode: read\r\nX-Mode: write\r\n\r\n", []string{"403 no-match"}, 0},
		{"underscore", "GET /ro/x HTTP/1.1\r\nHost: HOST\r\nX-Mode: read\r\nX_Mode: write\r\n\r\n", []string{"403 no-match"}, 0},
		{"dropped by Connection", "GET /ro/x HTTP/1.1\r\nHost: HOST\r\nX-Mode: read\r\nConnection: X-Mode\r\n\r\n", []string{"403 no-match"}, 0},
	})
}

// TestRedTeamOverrideHeaders: a route for GET and POST under /v1/; the
// agent asks the upstream framework to run DELETE, or to serve /admin,
// through override headers. They were forwarded; now refused.
func TestRedTeamOverrideHeaders(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n      matches: [{paths: [{type: prefix, value: /v1/}], methods: [GET, POST]}]\n", nil)
	runTunnelCases(t, p, up, []redTeamCase{
		{"method override", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nX-HTTP-Method-Override: DELETE\r\nContent-Length: 0\r\n\r\n", []string{"403 no-match"}, 0},
		{"_method", "POST /v1/x?_method=DELETE HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0\r\n\r\n", []string{"403 no-match"}, 0},
		{"x-original-url", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\nX-Original-URL: /admin\r\n\r\n", []string{"403 path"}, 0},
		{"allowed override", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nX-HTTP-Method-Override: GET\r\nContent-Length: 0\r\n\r\n", []string{"200 -"}, 1},
		// Rails and Laravel read _method from the body too; DLP is off on
		// this route, so the proxy reads the body for the methods list.
		{"form body _method", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\na=1&_method=PUT", []string{"403 method"}, 0},
		{"chunked form body _method", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n_met\r\na\r\nhod=DELETE\r\n0\r\n\r\n", []string{"403 method"}, 0},
		{"JSON body _method", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"_method\":\"DELETE\"}", []string{"403 method"}, 0},
		{"form body without _method", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2", []string{"200 -"}, 1},
	})
}

// TestRedTeamGitPush: pushes spelled so the old suffix check missed them;
// the route's token would have carried them past git-gate.
func TestRedTeamGitPush(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	runTunnelCases(t, p, up, []redTeamCase{
		{"trailing slash", "POST /repo.git/git-receive-pack/ HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0\r\n\r\n", []string{"403 git-push"}, 0},
		{"param", "POST /repo.git/git-receive-pack;x HTTP/1.1\r\nHost: HOST\r\nContent-Length: 0\r\n\r\n", []string{"403 git-push"}, 0},
		{"second content type", "POST /repo.git/x HTTP/1.1\r\nHost: HOST\r\nContent-Type: text/plain\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: 0\r\n\r\n", []string{"403 git-push"}, 0},
		{"upper case service", "GET /repo.git/info/refs?service=GIT-RECEIVE-PACK HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 git-push"}, 0},
	})
}

// TestRedTeamSmuggling: every request the proxy parses out of a tunnel is
// decided on its own, and the proxy writes a fresh request upstream, so a
// second request hidden behind the first never rides along.
func TestRedTeamSmuggling(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	second := "GET /admin HTTP/1.1\r\nHost: HOST\r\n\r\n"
	runTunnelCases(t, p, up, []redTeamCase{
		{"pipelined", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\n\r\n" + second, []string{"200 -", "403 no-match"}, 1},
		{"content-length and chunked", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nContent-Length: 60\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + second, []string{"200 -", "403 no-match"}, 1},
		{"expect 100-continue, body sent anyway", "POST /admin HTTP/1.1\r\nHost: HOST\r\nExpect: 100-continue\r\nContent-Length: 47\r\n\r\n" + second, []string{"403 no-match"}, 0},
		{"transfer-encoding identity", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nhi", []string{"501 -"}, 0},
		{"header name with a space", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\nX A: b\r\n\r\n", []string{"400 -"}, 0},
		{"bare LF", "GET /v1/x HTTP/1.1\nHost: HOST\n\n" + strings.ReplaceAll(second, "\r\n", "\n"), []string{"200 -", "403 no-match"}, 1},
		{"CONNECT inside the tunnel", "CONNECT HOST HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 method"}, 0},
		{"h2c upgrade", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", []string{"403 upgrade"}, 0},
		{"websocket upgrade", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", []string{"403 upgrade"}, 0},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", []string{"403 host-mismatch"}, 0},
		// Go's server answers OPTIONS * itself; nothing leaves.
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"200 -"}, 0},
		{"lower-case trace", "trace /v1/x HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 method"}, 0},
		{"header over 1 MiB", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\nX-Long: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", []string{"431 -"}, 0},
	})
}

// TestRedTeamHostConfusion: the host the policy checked is the host that
// gets the request, whatever the request line or Host header say.
func TestRedTeamHostConfusion(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy+"    - host: other.example.com\n", nil)
	runTunnelCases(t, p, up, []redTeamCase{
		{"absolute-form to another allowed host", "GET https://other.example.com:" + up.port + "/v1/x HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 host-mismatch"}, 0},
		{"userinfo", "GET https://HOST@other.example.com/v1/x HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 host-mismatch"}, 0},
		{"Host names another port", "GET /v1/x HTTP/1.1\r\nHost: up.example.com:443\r\n\r\n", []string{"403 host-mismatch"}, 0},
		{"two Host headers", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\nHost: other.example.com\r\n\r\n", []string{"400 -"}, 0},
		{"HTTP/1.0 without Host", "GET /v1/x HTTP/1.0\r\n\r\n", []string{"403 host-mismatch"}, 0},
		{"upper case and trailing dot", "GET /v1/x HTTP/1.1\r\nHost: UP.EXAMPLE.COM.:" + up.port + "\r\n\r\n", []string{"200 -"}, 1},
	})
	t.Run("plain absolute-form with userinfo", func(t *testing.T) {
		conn, err := net.Dial("tcp", p.url.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		got := redTeamSend(t, conn, "GET http://up.example.com@other.example.com:"+up.port+"/ HTTP/1.1\r\nHost: other.example.com\r\n\r\n", 1)
		if strings.Join(got, "") != "400 bad-request" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("plain absolute-form ignores Host header", func(t *testing.T) {
		before := up.seen.count()
		conn, err := net.Dial("tcp", p.url.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// https:// in a plain request: the proxy speaks TLS upstream itself.
		got := redTeamSend(t, conn, "GET https://up.example.com:"+up.port+"/v1/x HTTP/1.1\r\nHost: other.example.com\r\n\r\nGET https://up.example.com:"+up.port+"/admin HTTP/1.1\r\nHost: up.example.com\r\n\r\n", 2)
		if strings.Join(got, ", ") != "200 -, 403 no-match" {
			t.Fatalf("responses %q", got)
		}
		if up.seen.count() != before+1 {
			t.Fatal("refused request reached the upstream")
		}
		r, _ := up.seen.last(t)
		if r.Host != "up.example.com:"+up.port || r.Header.Get("Authorization") != "Bearer "+heldToken {
			t.Errorf("upstream saw Host %q, Authorization %q", r.Host, r.Header.Get("Authorization"))
		}
	})
}

// TestRedTeamTLSClientHello: no SNI is allowed (the CONNECT host decides)
// but the Host header (or HTTP/2 :authority) must still agree.
func TestRedTeamTLSClientHello(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy+"    - host: other.example.com\n", nil)
	hp := "up.example.com:" + up.port
	t.Run("no SNI", func(t *testing.T) {
		tc := redTeamTunnel(t, p, hp, "")
		got := redTeamSend(t, tc, "GET /v1/x HTTP/1.1\r\nHost: other.example.com:"+up.port+"\r\n\r\n", 1)
		if strings.Join(got, "") != "403 host-mismatch" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("h2 :authority of another host", func(t *testing.T) {
		tc := tls.Client(connect(t, p, hp), &tls.Config{ServerName: "up.example.com", RootCAs: bottleRoots(p), NextProtos: []string{"h2"}})
		st, code := h2Get(t, tc, "https://other.example.com:"+up.port+"/v1/x")
		if st != 403 || code != "host-mismatch" {
			t.Fatalf("got %d %q, want 403 host-mismatch", st, code)
		}
	})
}

// TestRedTeamConnectPorts: an allowed host on another port (ssh, smtp)
// is refused before any byte reaches it.
func TestRedTeamConnectPorts(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	for port, code := range map[string]string{"22": "port", "25": "port", "80": "port", "0": "bad-request", "99999": "bad-request"} {
		before := up.seen.count()
		resp := redTeamConnect(t, p, "up.example.com:"+port)
		if resp.StatusCode == 200 || resp.Header.Get(RefusalHeader) != code || !strings.Contains(resp.Status, "("+code+")") {
			t.Errorf("CONNECT to port %s: %s [%s], want %s", port, resp.Status, resp.Header.Get(RefusalHeader), code)
		}
		if up.seen.count() != before {
			t.Errorf("CONNECT to port %s reached the upstream", port)
		}
	}
}

// TestRedTeamPlainAfterTLS: the agent ends TLS with close_notify and
// sends plain HTTP on the same TCP connection, hoping it is relayed as an
// opaque tunnel. The proxy closes instead.
func TestRedTeamPlainAfterTLS(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	conn := connect(t, p, "up.example.com:"+up.port)
	tc := tls.Client(conn, &tls.Config{ServerName: "up.example.com", RootCAs: bottleRoots(p)})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tc.CloseWrite() // close_notify; the TCP connection stays open
	got := redTeamSend(t, conn, "GET /admin HTTP/1.1\r\nHost: up.example.com\r\n\r\n", 1)
	if len(got) != 0 {
		t.Errorf("plain bytes after TLS were answered: %q", got)
	}
	if up.seen.count() != 0 {
		t.Error("plain bytes after TLS reached the upstream")
	}
}

// multiResolver answers several addresses for a name.
type multiResolver map[string][]string

func (m multiResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	for _, s := range m[host] {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// TestRedTeamDNSRebinding: an allowed name that resolves to loopback (in
// any spelling), or to loopback among public addresses, is refused without
// unsafe_allow_private. The private address comes first, so a regression
// would reach the test upstream (and fail) rather than the internet.
func TestRedTeamDNSRebinding(t *testing.T) {
	up := newUpstream(t, true)
	res := multiResolver{
		"mixed.example.com":  {"127.0.0.1", "93.184.216.34"},
		"mapped.example.com": {"::ffff:127.0.0.1"},
		"nat64.example.com":  {"64:ff9b::7f00:1"},
		"other.example.com":  {"127.0.0.2"},
	}
	p := startProxy(t, up, "egress:\n  routes:\n    - host: mixed.example.com\n    - host: mapped.example.com\n    - host: nat64.example.com\n    - host: other.example.com\n", func(c *Config) {
		c.UnsafeAllowPrivateRanges = false
		c.Resolver = res
	})
	c := p.client(t)
	for name := range res {
		st, code, body, err := do(t, c, newReq(t, "GET", "https://"+name+":"+up.port+"/", nil))
		if err != nil || st != 403 || code != "private-address" {
			t.Errorf("%s: %d %q %v\n%s", name, st, code, err, body)
		}
	}
	if up.seen.count() != 0 {
		t.Error("a private address was dialed")
	}
	// Forms no test dials (they would leave loopback if the check failed).
	for _, a := range []string{"::ffff:0:7f00:1", "fec0::1", "169.254.169.254", "fd00:ec2::254", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100.100.100.200"} {
		if !isPrivate(mustAddr(t, a)) {
			t.Errorf("%s is not refused", a)
		}
	}
}

// TestRedTeamSecretHiding: the held token hidden where a scanner might not
// look: the fragment (Go puts it in the path), a cookie, a chunked body
// cut inside the token, a long header, a body sent after 100-continue.
func TestRedTeamSecretHiding(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	a, b := heldToken[:16], heldToken[16:]
	runTunnelCases(t, p, up, []redTeamCase{
		{"fragment", "GET /v1/x#" + heldToken + " HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 dlp"}, 0},
		{"cookie", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\nCookie: a=" + heldToken + "\r\n\r\n", []string{"403 dlp"}, 0},
		{"chunk split", fmt.Sprintf("POST /v1/x HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", len(a), a, len(b), b), []string{"403 dlp"}, 0},
		{"long header", "GET /v1/x HTTP/1.1\r\nHost: HOST\r\nX-Pad: " + strings.Repeat("a ", 200<<10) + heldToken + "\r\n\r\n", []string{"403 dlp"}, 0},
		{"after 100-continue", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nExpect: 100-continue\r\nContent-Length: " + fmt.Sprint(len(heldToken)) + "\r\n\r\n" + heldToken, []string{"100 -", "403 dlp"}, 0},
		{"in a trailer", fmt.Sprintf("POST /v1/x HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nhi\r\n0\r\nX-T: %s\r\n\r\n", heldToken), []string{"200 -"}, 1},
	})
	r, _ := up.seen.last(t)
	if len(r.Trailer) > 0 || r.Header.Get("X-T") != "" {
		t.Errorf("a request trailer carried the token upstream: %v", r.Trailer)
	}
}

// TestRedTeamReloadDropsPooledPrivateConn: a route loses
// unsafe_allow_private, but a kept-alive upstream connection to the
// private address it was allowed to reach stays in the pool. The next
// request rode it; now the pool is emptied on reload and the new dial is
// checked.
func TestRedTeamReloadDropsPooledPrivateConn(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n      unsafe_allow_private: true\n", func(c *Config) { c.UnsafeAllowPrivateRanges = false })
	c := p.client(t)
	u := "https://up.example.com:" + up.port + "/x"
	if st, code, _, err := do(t, c, newReq(t, "GET", u, nil)); err != nil || st != 200 {
		t.Fatalf("%d %s %v", st, code, err)
	}
	// An event stream keeps the HTTP/2 upstream connection busy, so it is
	// not idle when the policy changes.
	stream, err := p.client(t).Get("https://up.example.com:" + up.port + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	defer close(up.sse)
	writePolicy(t, p.policy, "egress:\n  routes:\n    - host: up.example.com\n", up.port)
	p.srv.reloadIfChanged()
	for _, m := range []string{"GET", "POST"} {
		st, code, _, err := do(t, c, newReq(t, m, u, strings.NewReader("x")))
		// The busy connection dies under the first request (502); the
		// next dial is checked (403).
		if err != nil || st == 200 || code != "private-address" && code != "upstream" {
			t.Errorf("%s after losing unsafe_allow_private: %d %q %v", m, st, code, err)
		}
	}
	if up.seen.count() != 1 {
		t.Errorf("upstream received %d requests, want 1", up.seen.count())
	}
}

// TestRedTeamMultipartHiding: the held token outside any part (preamble,
// epilogue), under a boundary the body does not use, or in a part whose
// base64 does not decode. Each is refused; none is passed unscanned.
func TestRedTeamMultipartHiding(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	c := p.client(t)
	part := "--ZZ\r\nContent-Disposition: form-data; name=a\r\n"
	for name, tc := range map[string]struct{ ct, body, code string }{
		"preamble":       {"multipart/form-data; boundary=ZZ", "pre " + heldToken + "\r\n" + part + "\r\nhi\r\n--ZZ--\r\n", "dlp"},
		"epilogue":       {"multipart/form-data; boundary=ZZ", part + "\r\nhi\r\n--ZZ--\r\nafter " + heldToken, "dlp"},
		"wrong boundary": {"multipart/form-data; boundary=QQ", part + "\r\n" + heldToken + "\r\n--ZZ--\r\n", "dlp-unscannable"},
		"no boundary":    {"multipart/form-data", "x " + heldToken, "dlp-unscannable"},
		"bad base64":     {"multipart/form-data; boundary=ZZ", part + "Content-Transfer-Encoding: base64\r\n\r\n!! " + heldToken + "\r\n--ZZ--\r\n", "dlp-unscannable"},
	} {
		st, code, _, err := do(t, c, newReq(t, "POST", "https://up.example.com:"+up.port+"/v1/x", strings.NewReader(tc.body), "Content-Type", tc.ct))
		if err != nil || st != 403 || code != tc.code {
			t.Errorf("%s: %d %q %v, want 403 %s", name, st, code, err, tc.code)
		}
	}
	if up.seen.count() != 0 {
		t.Error("a refused body reached the upstream")
	}
}

// TestRedTeamConnectHostForms: CONNECT targets that name an allowed host
// in another form. A Unicode spelling of a punycode route, user info, a
// trailing junk label: none is allowed.
func TestRedTeamConnectHostForms(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, "egress:\n  routes:\n    - host: xn--bcher-kva.example\n    - host: up.example.com\n", nil)
	for _, target := range []string{"bücher.example:443", "up.example.com@evil.example:443", "evil.example#up.example.com:443", "up.example.com.evil.example:443", "up.example.com%00:443"} {
		if resp := redTeamConnect(t, p, target); resp.StatusCode == 200 {
			t.Errorf("CONNECT %s allowed", target)
		}
	}
}
