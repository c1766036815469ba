package plan

import (
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
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
