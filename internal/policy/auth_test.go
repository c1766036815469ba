package policy

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const routesPolicy = `egress:
  routes:
    - host: "*.example.test"
    - host: registry.test
      ports: [8443]
    - host: api.test
      auth: {token_ref: API_KEY, header: x-api-key}
      matches:
        - paths: [{value: /v1/}]
`

func TestWildcardHosts(t *testing.T) {
	p := mustPolicy(t, routesPolicy)
	for host, want := range map[string]Code{
		"a.example.test":    CodeAllowed,
		"a.b.example.test":  CodeAllowed,
		"A.Example.Test.":   CodeAllowed,
		"example.test":      CodeNoRoute,
		"aexample.test":     CodeNoRoute,
		"a.example.test.ev": CodeNoRoute,
		"example.test.a":    CodeNoRoute,
	} {
		d := p.Decide(Request{Method: "GET", Scheme: "https", Host: host, Port: 443, Path: "/", Header: http.Header{}})
		if d.Code != want {
			t.Errorf("%s: %s (%s), want %s", host, d.Code, d.Reason, want)
		}
		if c := p.DecideConnect(host, 443); c.Code != want {
			t.Errorf("CONNECT %s: %s (%s), want %s", host, c.Code, c.Reason, want)
		}
	}
}

func TestRoutePorts(t *testing.T) {
	p := mustPolicy(t, routesPolicy)
	for _, tt := range []struct {
		host string
		port int
		want Code
	}{
		{"registry.test", 8443, CodeAllowed},
		{"registry.test", 443, CodePort},
		{"registry.test", 80, CodePort},
		{"registry.test", 8444, CodePort},
		{"a.example.test", 8443, CodePort},
		{"a.example.test", 443, CodeAllowed},
	} {
		if d := p.DecideConnect(tt.host, tt.port); d.Code != tt.want {
			t.Errorf("CONNECT %s:%d = %s (%s), want %s", tt.host, tt.port, d.Code, d.Reason, tt.want)
		}
		d := p.Decide(Request{Method: "GET", Scheme: "https", Host: tt.host, Port: tt.port, Path: "/", Header: http.Header{}})
		if d.Code != tt.want {
			t.Errorf("GET %s:%d = %s (%s), want %s", tt.host, tt.port, d.Code, d.Reason, tt.want)
		}
	}
	// The operator's test-only extra ports still apply.
	p.ExtraPorts = []int{9999}
	if d := p.DecideConnect("registry.test", 9999); !d.Allow {
		t.Errorf("extra port refused: %s", d.Reason)
	}
}

func TestAuthPlacementsCompile(t *testing.T) {
	p := mustPolicy(t, `egress:
  routes:
    - host: a.test
      auth: {token_ref: T}
    - host: b.test
      auth: {token_ref: T, header: x-goog-api-key}
    - host: c.test
      auth: {token_ref: T, basic_user: x-access-token}
    - host: d.test
      auth: {token_ref: T, query: key}
    - host: e.test
      auth: {token_ref: T, placeholder: NPM_TOKEN, placeholder_in_body: true}
`)
	var got []Auth
	for _, r := range p.Routes {
		got = append(got, *r.Auth)
	}
	want := []Auth{
		{Placement: "scheme", Scheme: "Bearer", TokenRef: "T"},
		{Placement: "header", Header: "X-Goog-Api-Key", TokenRef: "T"},
		{Placement: "basic_user", BasicUser: "x-access-token", TokenRef: "T"},
		{Placement: "query", Query: "key", TokenRef: "T"},
		{Placement: "placeholder", Placeholder: "NPM_TOKEN", InBody: true, TokenRef: "T"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if tab := p.Table(); tab[1].Auth.Header != "X-Goog-Api-Key" || tab[1].Auth.Placement != "header" {
		t.Errorf("table auth = %+v", tab[1].Auth)
	}
}
