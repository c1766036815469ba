package plan

import (
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/policy"
	agentprovider "github.com/bot-bottle/bot-bottle/internal/provider"
	"github.com/google/go-cmp/cmp"
)

func TestApplyProvision(t *testing.T) {
	p := &Bottle{
		Egress:           Egress{Routes: []manifest.Route{{Host: "api.github.com"}}},
		SidecarSecretEnv: []string{"GITHUB_TOKEN"},
		AgentEnv:         map[string]string{"HTTPS_PROXY": DefaultProxyURL},
	}
	prov := agentprovider.Provision{
		Routes:           []manifest.Route{{Host: "api.anthropic.com", Auth: &manifest.Auth{Scheme: "Bearer", TokenRef: "ANTHROPIC_API_KEY"}}},
		SidecarSecretEnv: []string{"ANTHROPIC_API_KEY", "GITHUB_TOKEN"},
		Env:              map[string]string{"ANTHROPIC_AUTH_TOKEN": "placeholder", "HTTPS_PROXY": "http://elsewhere"},
	}
	ApplyProvision(p, prov)
	if len(p.Egress.Routes) != 2 || p.Egress.Routes[0].Host != "api.anthropic.com" || len(p.Sidecar.Routes) != 2 {
		t.Errorf("routes: %+v / sidecar %+v", p.Egress.Routes, p.Sidecar.Routes)
	}
	if diff := cmp.Diff([]string{"ANTHROPIC_API_KEY", "GITHUB_TOKEN"}, p.SidecarSecretEnv); diff != "" {
		t.Errorf("secret env (-want +got):\n%s", diff)
	}
	if p.AgentEnv["HTTPS_PROXY"] != DefaultProxyURL || p.AgentEnv["ANTHROPIC_AUTH_TOKEN"] != "placeholder" {
		t.Errorf("agent env = %v", p.AgentEnv)
	}
	// The dry-run path applies it, then launch does again: nothing doubles.
	once := *p
	once.Egress.Routes = append([]manifest.Route{}, p.Egress.Routes...)
	ApplyProvision(p, prov)
	if diff := cmp.Diff(once.Egress.Routes, p.Egress.Routes); diff != "" {
		t.Errorf("a second ApplyProvision changed the routes (-once +twice):\n%s", diff)
	}
}

// The claude starter narrows the provider's api.anthropic.com route to
// POST /v1/messages: the composed plan has one route for the host, with
// the provider's auth and the bottle's matches, so a DELETE is refused.
func TestBottleRouteNarrowsProviderRoute(t *testing.T) {
	provAuth := &manifest.Auth{Header: "x-api-key", TokenRef: "ANTHROPIC_API_KEY"}
	own := manifest.Route{Host: "api.anthropic.com", Matches: []manifest.Match{{Methods: []string{"POST"}, Paths: []manifest.PathMatch{{Type: "prefix", Value: "/v1/messages"}}}}}
	p := &Bottle{Egress: Egress{Routes: []manifest.Route{own}}, AgentEnv: map[string]string{}}
	prov := agentprovider.Provision{Template: "claude", Routes: []manifest.Route{{Host: "api.anthropic.com", Auth: provAuth, DLP: &manifest.DLP{OutboundOnMatch: "redact"}}}}
	if err := ApplyProvision(p, prov); err != nil {
		t.Fatal(err)
	}
	want := own
	want.Auth, want.DLP = provAuth, &manifest.DLP{OutboundOnMatch: "redact"}
	if diff := cmp.Diff([]manifest.Route{want}, p.Egress.Routes); diff != "" {
		t.Fatalf("composed routes (-want +got):\n%s", diff)
	}
	pol, err := policy.Compile(&manifest.Egress{Routes: p.Egress.Routes})
	if err != nil {
		t.Fatal(err)
	}
	for method, allow := range map[string]bool{"POST": true, "DELETE": false} {
		d := pol.Decide(policy.Request{Method: method, Scheme: "https", Host: "api.anthropic.com", Port: 443, Path: "/v1/messages"})
		if d.Allow != allow {
			t.Errorf("%s /v1/messages: allow=%v (%s), want %v", method, d.Allow, d.Reason, allow)
		}
	}
	if err := ApplyProvision(p, prov); err != nil || len(p.Egress.Routes) != 1 {
		t.Errorf("a second ApplyProvision: %v, %d routes", err, len(p.Egress.Routes))
	}
	// Auth of the bottle's own there would be silently dropped or would
	// fight the provider's: refused, saying what to write.
	p.Egress.Routes = []manifest.Route{{Host: "api.anthropic.com", Auth: &manifest.Auth{TokenRef: "MY_KEY"}}}
	err = ApplyProvision(p, prov)
	if err == nil || !strings.Contains(err.Error(), "remove auth from this route") {
		t.Errorf("conflicting auth: %v", err)
	}
}

// A provider route with matches of its own (codex's chatgpt.com,
// /backend-api/ only) is narrowed only by a bottle route inside them: one
// reaching further would carry the provider's token with it, so it is
// refused, naming what the template allows.
func TestBottleRouteCannotWidenProviderMatches(t *testing.T) {
	prov := agentprovider.Provision{Template: "codex", Routes: []manifest.Route{{
		Host:    "chatgpt.com",
		Auth:    &manifest.Auth{Scheme: "Bearer", TokenRef: agentprovider.CodexAccessTokenEnv},
		Matches: []manifest.Match{{Paths: []manifest.PathMatch{{Type: "prefix", Value: "/backend-api/"}}}},
	}}}
	paths := func(ps ...manifest.PathMatch) []manifest.Match { return []manifest.Match{{Paths: ps}} }
	for _, tc := range []struct {
		name    string
		matches []manifest.Match
		ok      bool
	}{
		{"no matches", nil, false},
		{"other path", paths(manifest.PathMatch{Value: "/"}), false},
		{"regex", paths(manifest.PathMatch{Type: "regex", Value: "/backend-api/.*"}), false},
		{"methods only", []manifest.Match{{Methods: []string{"GET"}}}, false},
		{"one path past", paths(manifest.PathMatch{Value: "/backend-api/codex"}, manifest.PathMatch{Value: "/admin"}), false},
		{"inside, default type", paths(manifest.PathMatch{Value: "/backend-api/codex/"}), true},
		{"inside, exact", []manifest.Match{{Methods: []string{"POST"}, Paths: []manifest.PathMatch{{Type: "exact", Value: "/backend-api/codex/responses"}}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Bottle{Egress: Egress{Routes: []manifest.Route{{Host: "chatgpt.com", Matches: tc.matches}}}, AgentEnv: map[string]string{}}
			err := ApplyProvision(p, prov)
			if tc.ok {
				if err != nil || len(p.Egress.Routes) != 1 || p.Egress.Routes[0].Auth == nil {
					t.Fatalf("err %v, routes %+v", err, p.Egress.Routes)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "allows only /backend-api/ (prefix)") || !strings.Contains(err.Error(), "give every match paths under those") {
				t.Errorf("err = %v, want a refusal naming /backend-api/ and how to write it", err)
			}
		})
	}
	// Applying the provision twice (dry run, then launch) still works.
	p := &Bottle{Egress: Egress{Routes: []manifest.Route{}}, AgentEnv: map[string]string{}}
	for range 2 {
		if err := ApplyProvision(p, prov); err != nil || len(p.Egress.Routes) != 1 {
			t.Fatalf("%v %+v", err, p.Egress.Routes)
		}
	}
}
