package egress

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// FuzzServeHTTP drives the proxy's front door with agent-controlled
// requests. Nothing resolves, so nothing leaves; every answer must be a
// refusal with its code, and never show the token.
func FuzzServeHTTP(f *testing.F) {
	dir := f.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte("egress:\n  log: 2\n  routes:\n    - host: up.example.com\n      auth: {scheme: Bearer, token_ref: T}\n      dlp: {outbound_on_match: block}\n    - host: git.example.com\n      git: {fetch: true}\n"), 0o600)
	s, err := New(Config{
		PolicyPath: pol, StateDir: filepath.Join(dir, "ca"),
		Getenv:   func(string) string { return "fuzz-secret-token-value-0123456789" },
		Resolver: fakeResolver{},
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"GET http://up.example.com/x HTTP/1.1\r\nHost: up.example.com\r\n\r\n",
		"CONNECT up.example.com:443 HTTP/1.1\r\nHost: up.example.com:443\r\n\r\n",
		"POST http://git.example.com/r.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd",
		"GET http://_egress.local/allowlist HTTP/1.1\r\nHost: _egress.local\r\n\r\n",
		"GET https://user:pw@[::1]:99/%2e%2e/dns-query?x=fuzz-secret-token-value-0123456789 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
		"TRACE http://up.example.com/ HTTP/1.1\r\nHost: up.example.com\r\n\r\n",
		"GET /relative HTTP/1.1\r\nHost: up.example.com\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		intro := policy.NormalizeHost(req.URL.Hostname()) == IntrospectionHost
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		body := w.Body.String()
		// The agent may see what it sent, never the value the proxy holds.
		if strings.Contains(body, "fuzz-secret-token-value") && !strings.Contains(raw, "fuzz-secret-token-value") {
			t.Fatalf("response shows the token:\n%s", body)
		}
		if w.Code != 200 && w.Header().Get(RefusalHeader) == "" && !intro {
			t.Fatalf("status %d without a refusal code:\n%s", w.Code, body)
		}
		if w.Code == 200 && !intro {
			t.Fatalf("request forwarded although nothing resolves: %s %s", req.Method, req.URL)
		}
	})
}

// FuzzTarget checks the parsing of CONNECT targets and Host headers: a
// target always agrees with the text it came from, and never with a
// different host.
func FuzzTarget(f *testing.F) {
	for _, s := range []string{"up.example.com:443", "[::1]:8443", "UP.example.com.:443", "a:b:c", ":443", "x:0", "1.2.3.4"} {
		f.Add(s, "up.example.com")
	}
	f.Fuzz(func(t *testing.T, hostport, other string) {
		tg, err := targetOf("https", hostport)
		if err != nil {
			return
		}
		if tg.host == "" || tg.port < 1 || tg.port > 65535 {
			t.Fatalf("bad target %+v from %q", tg, hostport)
		}
		if !sameHost(hostport, tg) {
			t.Fatalf("%q does not agree with its own target %+v", hostport, tg)
		}
		h := other
		if hh, _, err := net.SplitHostPort(other); err == nil {
			h = hh
		}
		if policy.NormalizeHost(h) != tg.host && sameHost(other, tg) {
			t.Fatalf("%q agrees with target %+v of %q", other, tg, hostport)
		}
	})
}

// FuzzDoHShapes: DNS-message and JSON-answer detection take any bytes.
func FuzzDoHShapes(f *testing.F) {
	f.Add([]byte("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x07example\x00\x00\x01\x00\x01"))
	f.Add([]byte(`{"Status":0,"Question":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		isDNSMessage(b)
		dohJSONAnswer(b)
	})
}
