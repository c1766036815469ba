package policy

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPolicy = `egress:
  log: 2
  routes:
    - host: api.example.com
      auth: {scheme: Bearer, token_ref: API_TOKEN}
      matches:
        - paths: [{type: prefix, value: /v1/}]
          methods: [GET, POST]
        - paths: [{type: regex, value: "/items/[0-9]+"}]
          headers: [{name: X-Mode, value: read}]
    - host: docs.example.com
    - host: github.com
      git: {fetch: true}
    - host: gitlab.com
    - host: 10.0.0.5
    - host: internal.test
      unsafe_allow_private: true
    - host: plain.example.com
      auth: {scheme: token, token_ref: PLAIN}
`

func mustPolicy(t testing.TB, src string) *Policy {
	t.Helper()
	return mustPolicyFile(t, "policy.yaml", src)
}

func mustPolicyFile(t testing.TB, name, src string) *Policy {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecide(t *testing.T) {
	p := mustPolicy(t, testPolicy)
	get := func(scheme, host string, port int, path string) Request {
		return Request{Method: "GET", Scheme: scheme, Host: host, Port: port, Path: path, Header: http.Header{}}
	}
	with := func(r Request, f func(*Request)) Request { f(&r); return r }
	cases := []struct {
		name string
		req  Request
		code Code
	}{
		{"prefix allowed", get("https", "api.example.com", 443, "/v1/models"), CodeAllowed},
		{"host case and trailing dot", get("https", "API.EXAMPLE.COM.", 443, "/v1/x"), CodeAllowed},
		{"route host normalized", get("https", "docs.example.com", 443, "/anything"), CodeAllowed},
		{"unknown host", get("https", "evil.example.net", 443, "/"), CodeNoRoute},
		{"path outside matches", get("https", "api.example.com", 443, "/admin"), CodeNoMatch},
		{"method outside matches", with(get("https", "api.example.com", 443, "/v1/x"), func(r *Request) { r.Method = "DELETE" }), CodeNoMatch},
		{"regex needs header", get("https", "api.example.com", 443, "/items/12"), CodeNoMatch},
		{"regex with header", with(get("https", "api.example.com", 443, "/items/12"), func(r *Request) { r.Header.Set("x-mode", "read") }), CodeAllowed},
		{"regex anchored", with(get("https", "api.example.com", 443, "/items/12/delete"), func(r *Request) { r.Header.Set("X-Mode", "read") }), CodeNoMatch},
		{"dot segments", get("https", "api.example.com", 443, "/v1/../admin"), CodePath},
		{"trace", with(get("https", "docs.example.com", 443, "/"), func(r *Request) { r.Method = "TRACE" }), CodeMethod},
		{"websocket upgrade", with(get("https", "docs.example.com", 443, "/ws"), func(r *Request) { r.Header.Set("Upgrade", "websocket"); r.Header.Set("Connection", "Upgrade") }), CodeUpgrade},
		{"doh path", get("https", "docs.example.com", 443, "/dns-query"), CodeDoH},
		{"doh content type", with(get("https", "docs.example.com", 443, "/q"), func(r *Request) { r.Header.Set("Accept", "application/dns-message") }), CodeDoH},
		{"doh resolver host", get("https", "dns.google", 443, "/resolve"), CodeDoH},
		{"git push path", with(get("https", "github.com", 443, "/o/r.git/git-receive-pack"), func(r *Request) { r.Method = "POST" }), CodeGitPush},
		{"git push advert", with(get("https", "github.com", 443, "/o/r.git/info/refs"), func(r *Request) { r.Query = "service=git-receive-pack" }), CodeGitPush},
		{"git fetch allowed", with(get("https", "github.com", 443, "/o/r.git/info/refs"), func(r *Request) { r.Query = "service=git-upload-pack" }), CodeAllowed},
		{"git fetch not allowed", with(get("https", "gitlab.com", 443, "/o/r.git/git-upload-pack"), func(r *Request) { r.Method = "POST" }), CodeGitFetch},
		{"ip literal named", get("https", "10.0.0.5", 443, "/"), CodeAllowed},
		{"ip literal not named", get("https", "10.0.0.6", 443, "/"), CodeIPLiteral},
		{"port not allowed", get("https", "docs.example.com", 8443, "/"), CodePort},
		{"http on 80", get("http", "docs.example.com", 80, "/"), CodeAllowed},
		{"http on 443", get("http", "docs.example.com", 443, "/"), CodePort},
		{"token never over http", get("http", "plain.example.com", 80, "/"), CodeInsecureAuth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Decide(c.req)
			if d.Code != c.code {
				t.Fatalf("Decide = %s (%s), want %s", d.Code, d.Reason, c.code)
			}
			if d.Allow != (c.code == CodeAllowed) {
				t.Errorf("Allow = %v for code %s", d.Allow, d.Code)
			}
			if d.Reason == "" {
				t.Error("decision has no reason")
			}
		})
	}
}

func TestDecideConnect(t *testing.T) {
	p := mustPolicy(t, testPolicy)
	cases := []struct {
		host string
		port int
		code Code
	}{
		{"api.example.com", 443, CodeAllowed},
		{"api.example.com", 80, CodePort},
		{"evil.example.net", 443, CodeNoRoute},
		{"127.0.0.1", 443, CodeIPLiteral},
		{"cloudflare-dns.com", 443, CodeDoH},
		{"internal.test", 8443, CodePort},
	}
	for _, c := range cases {
		if d := p.DecideConnect(c.host, c.port); d.Code != c.code {
			t.Errorf("DecideConnect(%s, %d) = %s (%s), want %s", c.host, c.port, d.Code, d.Reason, c.code)
		}
	}
	if !p.AllowsPrivate("internal.test") || p.AllowsPrivate("api.example.com") {
		t.Error("AllowsPrivate does not follow unsafe_allow_private")
	}
	p.ExtraPorts = []int{8443}
	if d := p.DecideConnect("internal.test", 8443); !d.Allow {
		t.Errorf("extra port refused: %s", d.Reason)
	}
}

func TestCompileRejects(t *testing.T) {
	cases := map[string]string{
		"scheme in host":   "egress: {routes: [{host: 'https://x.com'}]}",
		"wildcard":         "egress: {routes: [{host: '*.com'}]}",
		"wildcard auth":    "egress: {routes: [{host: '*.x.com', auth: {token_ref: T}}]}",
		"two placements":   "egress: {routes: [{host: x.com, auth: {token_ref: T, header: x-api-key, query: key}}]}",
		"port zero":        "egress: {routes: [{host: x.com, ports: [0]}]}",
		"bad auth scheme":  "egress: {routes: [{host: x.com, auth: {scheme: Basic, token_ref: T}}]}",
		"bad token_ref":    "egress: {routes: [{host: x.com, auth: {scheme: Bearer, token_ref: 'a b'}}]}",
		"bad regex":        "egress: {routes: [{host: x.com, matches: [{paths: [{type: regex, value: '('}]}]}]}",
		"bad path type":    "egress: {routes: [{host: x.com, matches: [{paths: [{type: glob, value: /x}]}]}]}",
		"trace allowed":    "egress: {routes: [{host: x.com, matches: [{methods: [TRACE]}]}]}",
		"unknown detector": "egress: {routes: [{host: x.com, dlp: {outbound_detectors: [magic]}}]}",
		"bad on_match":     "egress: {routes: [{host: x.com, dlp: {outbound_on_match: ignore}}]}",
		"bad log":          "egress: {log: 3}",
		"unknown key":      "egress: {routes: [{host: x.com, hosts: y}]}",
		"port":             "egress: {routes: [{host: 'x.com:8443'}]}",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.yaml")
			os.WriteFile(path, []byte(src), 0o600)
			if _, err := LoadFile(path); err == nil {
				t.Fatal("invalid policy accepted")
			}
		})
	}
}

func TestTableHasNoValuesOnlyNames(t *testing.T) {
	p := mustPolicy(t, testPolicy)
	tab := p.Table()
	if len(tab) != len(p.Routes) || tab[0].Auth == nil || tab[0].Auth.TokenRef != "API_TOKEN" {
		t.Fatalf("table = %+v", tab)
	}
}

func TestLoadFrontmatter(t *testing.T) {
	src := "---\negress:\n  routes:\n    - host: x.com\n---\n# my bottle\n"
	p := mustPolicyFile(t, "my-bottle.md", src)
	if len(p.Routes) != 1 || !strings.EqualFold(p.Routes[0].Host, "x.com") {
		t.Fatalf("routes = %+v", p.Routes)
	}
}

func FuzzDecide(f *testing.F) {
	p := mustPolicy(f, testPolicy)
	f.Add("GET", "api.example.com", "/v1/x", "service=git-upload-pack", "application/json")
	f.Add("POST", "github.com", "/a/../git-receive-pack", "", "application/x-git-receive-pack-request")
	f.Add("TRACE", "[::1]", "/dns-query", "%zz", "application/dns-message, text/html")
	f.Add("POST", "github.com", "/o/r.git/git-receive-pack;x/", "_method=DELETE", "text/plain")
	f.Add("GET", "api.example.com", "/v1/..;/%252e%252e\\admin", "service=GIT-RECEIVE-PACK", "")
	f.Fuzz(func(t *testing.T, method, host, path, query, ct string) {
		h := http.Header{}
		h.Set("Content-Type", ct)
		d := p.Decide(Request{Method: method, Scheme: "https", Host: host, Port: 443, Path: path, Query: query, Header: h})
		if d.Allow && d.Route == nil || d.Allow != (d.Code == CodeAllowed) || d.Reason == "" {
			t.Fatalf("inconsistent decision %+v", d)
		}
		if d.Allow && (strings.Contains(path, "git-receive-pack") && strings.HasSuffix(path, "/git-receive-pack")) {
			t.Fatalf("push allowed: %+v", d)
		}
	})
}
