package policy

import (
	"net/http"
	"testing"
)

// Red-team cases: requests a hostile agent shapes so that the policy and
// the upstream read them differently. See docs/redteam.md.

const redTeamPolicy = `egress:
  routes:
    - host: api.example.com
      matches:
        - paths: [{type: prefix, value: /v1/}]
        - paths: [{type: prefix, value: /ro/}]
          headers: [{name: X-Mode, value: read}]
        - paths: [{type: prefix, value: /repo.git/}]
`

func redTeamReq(method, path string, hdr ...string) Request {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return Request{Method: method, Scheme: "https", Host: "api.example.com", Port: 443, Path: path, Header: h}
}

// TestRedTeamPathTraversalForms: each path is what Go hands the policy
// (already percent-decoded once) and steps out of /v1/ on some upstream.
func TestRedTeamPathTraversalForms(t *testing.T) {
	p := mustPolicy(t, redTeamPolicy)
	for _, path := range []string{
		"/v1/..;/admin", // Tomcat, Jetty: ;params cut before normalizing
		"/v1/..;jsessionid=x/admin",
		"/v1/.;/admin",
		"/v1/..\\admin", // IIS, some Node and Java servers
		"/v1\\..\\admin",
		"/v1/%2e%2e/admin", // a server that decodes twice (%252e%252e on the wire)
		"/v1/%2E%2E%2Fadmin",
		"/v1/%252e%252e/admin",       // three times
		"/v1/%25252525252e/admin",    // still encoded after four rounds
		"/v1/\uff0e\uff0e/admin",     // fullwidth full stops (NFKC)
		"/v1/\xc0\xae\xc0\xae/admin", // overlong UTF-8 (%c0%ae)
		"/v1/\xc0\xae/admin",
		"/v1/.\uff0e/admin",
	} {
		if d := p.Decide(redTeamReq("GET", path)); d.Code != CodePath {
			t.Errorf("%s: %s (%s), want %s", path, d.Code, d.Reason, CodePath)
		}
	}
	for _, path := range []string{"/v1/a..b", "/v1/.well-known", "/v1/100%25", "/v1/a;b=c", "/v1/..."} {
		if d := p.Decide(redTeamReq("GET", path)); !d.Allow {
			t.Errorf("%s refused: %s", path, d.Reason)
		}
	}
}

// TestRedTeamHeaderMatchEveryValue: a header match must hold for every
// value the upstream could read, and the header must reach the upstream.
func TestRedTeamHeaderMatchEveryValue(t *testing.T) {
	p := mustPolicy(t, redTeamPolicy)
	cases := []struct {
		name string
		hdr  []string
		code Code
	}{
		{"one value", []string{"X-Mode", "read"}, CodeAllowed},
		{"second value", []string{"X-Mode", "read", "X-Mode", "write"}, CodeNoMatch},
		{"dropped by Connection", []string{"X-Mode", "read", "Connection", "keep-alive, x-mode"}, CodeNoMatch},
		{"underscore alias", []string{"X-Mode", "read", "X_Mode", "write"}, CodeNoMatch},
		{"underscore alone", []string{"X_Mode", "read"}, CodeAllowed},
	}
	for _, c := range cases {
		if d := p.Decide(redTeamReq("GET", "/ro/x", c.hdr...)); d.Code != c.code {
			t.Errorf("%s: %s (%s), want %s", c.name, d.Code, d.Reason, c.code)
		}
	}
}

// TestRedTeamGitPushForms: a push spelled any way an upstream might route
// it is refused, so the route's token never carries a push past git-gate.
func TestRedTeamGitPushForms(t *testing.T) {
	p := mustPolicy(t, redTeamPolicy)
	cases := []Request{
		redTeamReq("POST", "/repo.git/git-receive-pack/"),
		redTeamReq("POST", "/repo.git/git-receive-pack;x"),
		redTeamReq("POST", "/repo.git/GIT-RECEIVE-PACK"),
		redTeamReq("POST", "/repo.git/git%2Dreceive%2Dpack"), // %252D on the wire
		redTeamReq("POST", "/repo.git/x", "Content-Type", "text/plain", "Content-Type", "application/x-git-receive-pack-request"),
		func() Request {
			r := redTeamReq("GET", "/repo.git/info/refs")
			r.Query = "service=GIT-RECEIVE-PACK"
			return r
		}(),
	}
	for _, r := range cases {
		if d := p.Decide(r); d.Code != CodeGitPush {
			t.Errorf("%s %s %v: %s (%s), want %s", r.Method, r.Path, r.Header, d.Code, d.Reason, CodeGitPush)
		}
	}
	if d := p.Decide(redTeamReq("POST", "/repo.git/git-upload-pack/")); d.Code != CodeGitFetch {
		t.Errorf("fetch with a trailing slash: %s, want %s", d.Code, CodeGitFetch)
	}
}

// TestRedTeamMethodCase: the policy reads methods case-blind, so a
// lower-case spelling neither slips past a refusal nor past a methods list.
func TestRedTeamMethodCase(t *testing.T) {
	p := mustPolicy(t, "egress: {routes: [{host: api.example.com, matches: [{methods: [GET]}]}]}")
	for m, want := range map[string]Code{"trace": CodeMethod, "TrAcE": CodeMethod, "connect": CodeMethod, "delete": CodeNoMatch, "get": CodeAllowed} {
		if d := p.Decide(redTeamReq(m, "/")); d.Code != want {
			t.Errorf("%s: %s, want %s", m, d.Code, want)
		}
	}
}

// TestRedTeamOverrideHeaders: headers and the _method parameter that make
// frameworks run another method or serve another path than the request
// line's. A GET-only route forwarded a POST asking for DELETE.
func TestRedTeamOverrideHeaders(t *testing.T) {
	p := mustPolicy(t, "egress: {routes: [{host: api.example.com, matches: [{paths: [{type: prefix, value: /v1/}], methods: [GET, POST]}]}]}")
	q := func(r Request, query string) Request { r.Query = query; return r }
	cases := []struct {
		name string
		req  Request
		code Code
	}{
		{"plain post", redTeamReq("POST", "/v1/x"), CodeAllowed},
		{"override to get", redTeamReq("POST", "/v1/x", "X-HTTP-Method-Override", "GET"), CodeAllowed},
		{"override to delete", redTeamReq("POST", "/v1/x", "X-HTTP-Method-Override", "DELETE"), CodeNoMatch},
		{"x-http-method", redTeamReq("POST", "/v1/x", "X-HTTP-Method", "put"), CodeNoMatch},
		{"x-method-override underscore", redTeamReq("POST", "/v1/x", "X_Method_Override", "PATCH"), CodeNoMatch},
		{"_method query", q(redTeamReq("POST", "/v1/x"), "a=1&_method=DELETE"), CodeNoMatch},
		{"override to trace", redTeamReq("POST", "/v1/x", "X-HTTP-Method-Override", "TRACE"), CodeMethod},
		{"x-original-url", redTeamReq("GET", "/v1/x", "X-Original-URL", "/admin"), CodePath},
		{"x-rewrite-url", redTeamReq("GET", "/v1/x", "X-Rewrite-URL", "/admin"), CodePath},
	}
	for _, c := range cases {
		if d := p.Decide(c.req); d.Code != c.code {
			t.Errorf("%s: %s (%s), want %s", c.name, d.Code, d.Reason, c.code)
		}
	}
}

// TestRedTeamDoHPathForms: /dns-query as nginx (merged slashes) or a
// lenient router (case, ;params, trailing slash) would route it.
func TestRedTeamDoHPathForms(t *testing.T) {
	p := mustPolicy(t, "egress: {routes: [{host: api.example.com}]}")
	for _, path := range []string{"/dns-query", "//dns-query", "/DNS-Query", "/dns-query;x", "/dns-query/", "\\dns-query", "/dns%2Dquery"} {
		if d := p.Decide(redTeamReq("GET", path)); d.Code != CodeDoH {
			t.Errorf("%s: %s, want %s", path, d.Code, CodeDoH)
		}
	}
	if d := p.Decide(redTeamReq("GET", "/docs/dns-query-howto")); !d.Allow {
		t.Errorf("ordinary path refused: %s", d.Reason)
	}
}
