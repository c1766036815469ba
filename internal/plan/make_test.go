package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json")

// validHome copies the manifest package's testdata/valid into a fresh
// ~/.bot-bottle and returns the home directory.
func validHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	src := "../manifest/testdata/valid"
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(home, ".bot-bottle", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return home
}

// fixedRand always yields the same slug suffix.
func fixedRand() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{7, 8, 9, 40, 41}, 100)) }

func allEnv() map[string]bool {
	return map[string]bool{"GITHUB_TOKEN": true, "ANTHROPIC_API_KEY": true}
}

func TestMakeGolden(t *testing.T) {
	tests := []struct {
		name    string
		agent   string
		bottles []string
		builtin bool
	}{
		{name: "impl-github", agent: "impl"},
		{name: "plain-claude-github", agent: "plain", bottles: []string{"claude", "github"}},
		{name: "builtin", agent: "shell", builtin: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if !tt.builtin {
				home = validHome(t)
			}
			set := manifest.Load(home, "")
			res, err := set.Resolve(tt.agent, tt.bottles)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Make(Input{Resolved: res, EnvSet: allEnv(), Rand: fixedRand(), StateRoot: "/state"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = bytes.ReplaceAll(got, []byte(home), []byte("$HOME"))
			golden := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMakeMissingTokenIsAnErrorNamingVarAndRoute(t *testing.T) {
	set := manifest.Load(validHome(t), "")
	res, err := set.Resolve("impl", []string{"github", "claude"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Make(Input{Resolved: res, EnvSet: map[string]bool{}, Rand: fixedRand()})
	want := "agent_provider.auth_token: env var ANTHROPIC_API_KEY is not set; export it before start (its value goes only to the sidecar)\n" +
		"egress route 2 (api.github.com) token_ref: env var GITHUB_TOKEN is not set; export it before start (its value goes only to the sidecar)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}

func TestMakeFacts(t *testing.T) {
	set := manifest.Load(validHome(t), "")
	res, err := set.Resolve("impl", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Bottles[0].Spec.Env["HTTPS_PROXY"] = "http://attacker.example:1"
	p, err := Make(Input{Resolved: res, EnvSet: allEnv(), Rand: fixedRand(), StateRoot: "/state"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^impl-[a-z0-9]{5}$`).MatchString(p.Slug) {
		t.Errorf("slug %q is not AGENT-xxxxx", p.Slug)
	}
	if got := p.AgentEnv["HTTPS_PROXY"]; got != DefaultProxyURL {
		t.Errorf("HTTPS_PROXY = %q: the bottle's env must not override the proxy", got)
	}
	for _, name := range manifest.ReservedEnv() {
		if _, ok := p.AgentEnv[name]; !ok {
			t.Errorf("manifest.ReservedEnv lists %s but the plan does not set it", name)
		}
	}
	if diff := cmp.Diff([]string{"GITHUB_TOKEN"}, p.SidecarSecretEnv); diff != "" {
		t.Errorf("secret slots (-want +got):\n%s", diff)
	}
	if got := p.SidecarEnv["BOT_BOTTLE_SIDECAR_DAEMONS"]; got != "egress,supervise,dns,git-gate" {
		t.Errorf("daemons = %q", got)
	}
	if p.GitGate.User != (manifest.GitUser{Name: "Impl Agent", Email: "github-bot@example.com"}) {
		t.Errorf("git user = %+v: the agent's git-gate.user overrides per field", p.GitGate.User)
	}
	for _, m := range p.Mounts {
		if m.Container == "agent" && strings.HasSuffix(m.Source, "/ca") {
			t.Errorf("the agent mounts the CA folder holding the CA key: %+v", m)
		}
	}
	// Same input, same plan: Make is pure.
	p2, _ := Make(Input{Resolved: res, EnvSet: allEnv(), Rand: fixedRand(), StateRoot: "/state"})
	if diff := cmp.Diff(p, p2); diff != "" {
		t.Errorf("two plans from the same input differ:\n%s", diff)
	}
}

func TestGitConfig(t *testing.T) {
	repos := []Repo{
		{Name: "app", URL: "git@github.com:org/app.git"},
		{Name: "tools", URL: "ssh://git@git.example.com:2222/team/tools"},
	}
	got := GitConfig("http://git-gate:9420/", manifest.GitUser{Name: "Bot", Email: "bot@example.com"}, repos)
	want := []GitConfigEntry{
		{"user.name", "Bot"},
		{"user.email", "bot@example.com"},
		{"url.http://git-gate:9420/app.git.insteadOf", "git@github.com:org/app.git"},
		{"url.http://git-gate:9420/app.git.insteadOf", "ssh://git@github.com/org/app.git"},
		{"url.http://git-gate:9420/app.git.insteadOf", "git@github.com:org/app"},
		{"url.http://git-gate:9420/app.git.insteadOf", "ssh://git@github.com/org/app"},
		{"url.http://git-gate:9420/tools.git.insteadOf", "ssh://git@git.example.com:2222/team/tools.git"},
		{"url.http://git-gate:9420/tools.git.insteadOf", "ssh://git@git.example.com:2222/team/tools"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRandomSuffix(t *testing.T) {
	// 252..255 are rejected (modulo bias); 0 and 35 map to a and 9.
	got, err := randomSuffix(bytes.NewReader(append([]byte{255, 252, 0, 35, 36, 1}, make([]byte, 10)...)))
	if err != nil {
		t.Fatal(err)
	}
	if got != "a9ab"+"a" {
		t.Errorf("suffix = %q, want a9aba", got)
	}
	if _, err := randomSuffix(bytes.NewReader(nil)); err == nil {
		t.Error("an empty reader gave a slug")
	}
}

// The sidecar reads sidecar.json back into SidecarConfig: every field,
// detectors switched off included, must survive the trip.
func TestSidecarConfigJSONRoundTrip(t *testing.T) {
	set := manifest.Load(validHome(t), "")
	res, err := set.Resolve("impl", []string{"github", "claude"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Make(Input{Resolved: res, EnvSet: allEnv(), Rand: fixedRand(), StateRoot: "/state"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p.Sidecar)
	if err != nil {
		t.Fatal(err)
	}
	var back SidecarConfig
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p.Sidecar, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if !back.Routes[1].DLP.InboundDetectors.Off {
		t.Error("inbound_detectors: false did not survive")
	}
}
