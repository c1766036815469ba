package plan

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

func TestPlaceholderGetsAFreshSentinelInBothEnvs(t *testing.T) {
	make1 := func() *Bottle {
		set := manifest.Load(validHome(t), "")
		res, err := set.Resolve("impl", nil)
		if err != nil {
			t.Fatal(err)
		}
		e := res.Bottles[0].Spec.Egress
		e.Routes = append(e.Routes, manifest.Route{Host: "registry.npmjs.org", Auth: &manifest.Auth{TokenRef: "GITHUB_TOKEN", Placeholder: "NPM_TOKEN"}})
		res.Bottles[0].Spec.Env["NPM_TOKEN"] = "the-bottle-env-loses"
		p, err := Make(Input{Resolved: res, EnvSet: allEnv(), Rand: rand.Reader, StateRoot: "/state"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := make1(), make1()
	s := a.AgentEnv["NPM_TOKEN"]
	if !strings.HasPrefix(s, manifest.SentinelPrefix) || len(s) != len(manifest.SentinelPrefix)+32 {
		t.Fatalf("agent NPM_TOKEN = %q, want a sentinel", s)
	}
	if a.SidecarEnv[manifest.SentinelEnvPrefix+"NPM_TOKEN"] != s {
		t.Error("the sidecar does not hold the agent's sentinel")
	}
	if b.AgentEnv["NPM_TOKEN"] == s {
		t.Error("two bottles got the same sentinel")
	}
}
