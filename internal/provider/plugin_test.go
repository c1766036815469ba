package provider

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

func TestLoadPlugin(t *testing.T) {
	contrib, err := filepath.Abs("testdata/contrib")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Lookup("aider", contrib)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Provision(Input{
		Headless: true, Prompt: "add tests", SystemPrompt: "be terse",
		AuthTokenEnv: "OPENAI_TOKEN", SuperviseURL: "http://supervise:9100/mcp",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Provision{
		Template:   "aider",
		Dockerfile: filepath.Join(contrib, "aider", "Dockerfile"),
		Context:    filepath.Join(contrib, "aider"),
		Command:    []string{"aider", "--yes-always", "--message", "add tests"},
		Env:        map[string]string{"AIDER_CHECK_UPDATE": "false", "OPENAI_API_KEY": "sk-proj-placeholder"},
		Files:      []File{{Path: "/home/agent/.aider.system.md", Content: "be terse"}},
		Setup: []Step{{What: "registering the supervise MCP server",
			Argv: []string{"aider-mcp", "add", "supervise", "http://supervise:9100/mcp"}}},
		Routes: []manifest.Route{{
			Host: "api.openai.com",
			Auth: &manifest.Auth{Scheme: "Bearer", TokenRef: "OPENAI_TOKEN"},
			DLP:  &manifest.DLP{OutboundOnMatch: "redact"},
		}},
		SidecarSecretEnv: []string{"OPENAI_TOKEN"},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("provision (-want +got):\n%s", diff)
	}
}

func TestLoadPluginErrors(t *testing.T) {
	contrib, _ := filepath.Abs("testdata/contrib")
	for name, want := range map[string]string{
		"nodocker": "no Dockerfile",
		"missing":  "not a built-in",
		"claude":   "", // a built-in, found without the contrib dir
	} {
		_, err := Lookup(name, contrib)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
	if _, err := LoadPlugin(contrib, "shell"); err == nil || !strings.Contains(err.Error(), "built-in") {
		t.Errorf("a plugin shadowing a built-in: %v", err)
	}
}

func TestParsePluginRejects(t *testing.T) {
	tests := map[string]struct {
		yaml string
		want string
	}{
		"unknown key":              {"command: [x]\ncomand: [y]\n", "line 2: field comand not found"},
		"no command":               {"description: x\n", "command: a command is required"},
		"no prompt":                {"command: [x]\nheadless: [x, go]\n", "exactly one argument must be {prompt}"},
		"two prompts":              {"command: [x]\nheadless: [x, '{prompt}', '{prompt}']\n", "exactly one"},
		"embedded prompt":          {"command: [x]\nheadless: [x, '--m={prompt}']\n", "whole argument"},
		"mcp without url":          {"command: [x]\nmcp_register: [[x, add]]\n", "mcp_register[0]"},
		"skills outside":           {"command: [x]\nskills: {dir: /etc/skills}\n", "under /home/agent"},
		"skills dotdot":            {"command: [x]\nskills: {dir: /home/agent/../../etc}\n", "clean absolute path"},
		"host dir escape":          {"command: [x]\nskills: {dir: /home/agent/s, host_dirs: [../x]}\n", "inside the home"},
		"proxy env":                {"command: [x]\nenv: {HTTPS_PROXY: http://evil}\n", "set by bot-bottle"},
		"ca env":                   {"command: [x]\nenv: {SSL_CERT_FILE: /x}\n", "set by bot-bottle"},
		"both prompts":             {"command: [x]\nsystem_prompt: {args: ['{system_prompt}'], file: /home/agent/p}\n", "not both"},
		"token_ref":                {"command: [x]\nauth: {env: K, placeholder: p-placeholder, routes: [{host: h, auth: {scheme: Bearer, token_ref: X}}]}\n", "leave token_ref out"},
		"bad scheme":               {"command: [x]\nauth: {env: K, placeholder: p-placeholder, routes: [{host: h, auth: {scheme: Basic}}]}\n", "Bearer or token"},
		"private":                  {"command: [x]\nauth: {env: K, placeholder: p-placeholder, routes: [{host: h, auth: {scheme: Bearer}, unsafe_allow_private: true}]}\n", "unsafe_allow_private"},
		"no placeholder":           {"command: [x]\nauth: {env: K, routes: [{host: h, auth: {scheme: Bearer}}]}\n", "placeholder"},
		"real-looking placeholder": {"command: [x]\nauth: {env: K, placeholder: sk-proj-abc123, routes: [{host: h, auth: {scheme: Bearer}}]}\n", `must contain the word "placeholder"`},
		"empty":                    {"", "empty file"},
		"two docs":                 {"command: [x]\n---\ncommand: [y]\n", "more than one"},
		"settings outside":         {"command: [x]\nsettings_file: /etc/passwd\n", "under /home/agent"},
		"placeholder in route":     {"command: [x]\nauth: {env: K, placeholder: p-placeholder, routes: [{host: h, auth: {placeholder: K}}]}\n", "no placeholder"},
		"forbidden header":         {"command: [x]\nauth: {env: K, placeholder: p-placeholder, routes: [{host: h.example, auth: {header: Host}}]}\n", "set or dropped by the proxy"},
		"wildcard auth":            {"command: [x]\nauth: {env: K, placeholder: p-placeholder, routes: [{host: '*.h.example', auth: {header: x-api-key}}]}\n", "wildcard"},
		"route unknown key":        {"command: [x]\nauth: {env: K, placeholder: p-placeholder, routes: [{hots: h}]}\n", "field hots not found"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePlugin("p", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPluginHeaderPlacement(t *testing.T) {
	s, err := ParsePlugin("p", []byte("command: [x]\nauth: {env: K, placeholder: k-placeholder, routes: [{host: api.example.com, auth: {header: x-api-key}}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Provision(Input{AuthTokenEnv: "MY_KEY"})
	if err != nil || len(p.Routes) != 1 || p.Routes[0].Auth.Header != "x-api-key" || p.Routes[0].Auth.TokenRef != "MY_KEY" {
		t.Fatalf("routes %+v, err %v", p.Routes, err)
	}
}

func FuzzParsePlugin(f *testing.F) {
	seed, err := os.ReadFile("testdata/contrib/aider/provider.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("command: [x]\nheadless: [x, '{prompt}']\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParsePlugin("p", data)
		if err != nil {
			return
		}
		// Whatever parses must provision a headless prompt as one argument.
		if len(s.Headless) == 0 {
			return
		}
		p, err := s.Provision(Input{Headless: true, Prompt: "a b; c"})
		if err != nil {
			t.Fatalf("parsed plugin does not provision: %v", err)
		}
		n := 0
		for _, a := range p.Command {
			if a == "a b; c" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("prompt appears %d times in %q", n, p.Command)
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveSkills(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle/skills/review/SKILL.md"), "# review")
	writeFile(t, filepath.Join(home, ".claude/skills/review/SKILL.md"), "# shadowed")
	writeFile(t, filepath.Join(home, ".claude/skills/deploy/SKILL.md"), "# deploy")
	writeFile(t, filepath.Join(home, "src/linked/SKILL.md"), "# linked")
	if err := os.Symlink(filepath.Join(home, "src/linked"), filepath.Join(home, ".claude/skills/linked")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, ".claude/skills/leaky/SKILL.md"), "# leaky")
	writeFile(t, filepath.Join(home, ".ssh/id_ed25519"), "PRIVATE")
	if err := os.Symlink(filepath.Join(home, ".ssh/id_ed25519"), filepath.Join(home, ".claude/skills/leaky/key")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, ".claude/skills/notdir"), "file")

	claude := builtin(t, Claude)
	got, err := ResolveSkills(claude, home, []string{"review", "deploy", "linked", "review"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Skill{
		{Name: "review", Source: filepath.Join(home, ".bot-bottle/skills/review")},
		{Name: "deploy", Source: filepath.Join(home, ".claude/skills/deploy")},
		{Name: "linked", Source: filepath.Join(home, "src/linked")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("skills (-want +got):\n%s", diff)
	}
	p, err := claude.Provision(Input{Skills: got})
	if err != nil {
		t.Fatal(err)
	}
	if p.Skills[1].Target != AgentHome+"/.claude/skills/deploy" {
		t.Errorf("target %q", p.Skills[1].Target)
	}

	for name, want := range map[string]string{
		"missing": "not found",
		"../etc":  "not a skill name",
		"Review":  "not a skill name",
		"leaky":   "not a plain file",
		"notdir":  "not a folder",
	} {
		if _, err := ResolveSkills(claude, home, []string{name}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
	// The shell looks only in ~/.bot-bottle/skills.
	if _, err := ResolveSkills(builtin(t, Shell), home, []string{"deploy"}); err == nil {
		t.Error("shell found a skill outside ~/.bot-bottle/skills")
	}
}

func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(b) + "." + enc([]byte("REAL-SIGNATURE"))
}

func TestCodexHostCredentials(t *testing.T) {
	home := t.TempDir()
	access := jwt(t, map[string]any{"exp": 2000000000, "sub": "user"})
	id := jwt(t, map[string]any{"email": "a@example.com", "chatgpt_plan_type": "plus"})
	auth := map[string]any{
		"OPENAI_API_KEY": nil,
		"tokens":         map[string]any{"id_token": id, "access_token": access, "refresh_token": "REAL-REFRESH", "account_id": "acc-1"},
		"last_refresh":   "2020-01-01T00:00:00Z",
	}
	b, _ := json.Marshal(auth)
	writeFile(t, filepath.Join(home, ".codex/auth.json"), string(b))

	spec := builtin(t, Codex)
	now := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	c, err := ReadHostCredentials(*spec.HostCredentials, home, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SidecarEnv[CodexAccessTokenEnv].Reveal(); got != access {
		t.Errorf("sidecar token %q, want the host's access token", got)
	}
	if len(c.Files) != 1 || c.Files[0].Path != AgentHome+"/.codex/auth.json" {
		t.Fatalf("files %+v", c.Files)
	}
	agent := c.Files[0].Content
	for _, secret := range []string{"REAL-REFRESH", access, id, base64.RawURLEncoding.EncodeToString([]byte("REAL-SIGNATURE"))} {
		if strings.Contains(agent, secret) {
			t.Errorf("agent auth.json carries a real credential %q", secret)
		}
	}
	var placed struct {
		Tokens      codexTokens `json:"tokens"`
		LastRefresh string      `json:"last_refresh"`
	}
	if err := json.Unmarshal([]byte(agent), &placed); err != nil {
		t.Fatal(err)
	}
	claims, err := base64.RawURLEncoding.DecodeString(strings.Split(placed.Tokens.IDToken, ".")[1])
	if err != nil || !strings.Contains(string(claims), "chatgpt_plan_type") {
		t.Errorf("placeholder id_token lost its claims: %s %v", claims, err)
	}
	if placed.Tokens.AccountID != "acc-1" || placed.LastRefresh != "2026-11-26T21:00:00Z" {
		t.Errorf("placeholder %+v", placed)
	}
}

func TestCodexHostCredentialsErrors(t *testing.T) {
	spec := builtin(t, Codex)
	for name, content := range map[string]string{
		"api key":    `{"OPENAI_API_KEY":"sk-real"}`,
		"signed out": `{}`,
		"bad jwt":    `{"tokens":{"id_token":"x","access_token":"y"}}`,
		"not json":   `{`,
	} {
		home := t.TempDir()
		writeFile(t, filepath.Join(home, ".codex/auth.json"), content)
		_, err := ReadHostCredentials(*spec.HostCredentials, home, time.Now())
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "sk-real") {
			t.Errorf("%s: error leaks the key: %v", name, err)
		}
	}
	if _, err := ReadHostCredentials(*spec.HostCredentials, t.TempDir(), time.Now()); err == nil {
		t.Error("a missing auth.json was accepted")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	b, _ := json.Marshal(map[string]Secret{"k": s})
	for _, out := range []string{s.String(), s.GoString(), string(b), s.LogValue().String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
	}
}

// FuzzResolveSkills: skill names can come from an agent file in a cloned
// repository. Whatever the name, a skill found must sit directly in one of
// the template's host skill folders.
func FuzzResolveSkills(f *testing.F) {
	for _, s := range []string{"review", "../.ssh", "a/b", ".", "..", "x\x00y", "Review", strings.Repeat("a", 70)} {
		f.Add(s)
	}
	home := f.TempDir()
	for _, d := range []string{".bot-bottle/skills/review", ".claude/skills/deploy", ".ssh"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	spec, _ := Builtin(Claude)
	f.Fuzz(func(t *testing.T, name string) {
		skills, err := ResolveSkills(spec, home, []string{name})
		if err != nil {
			return
		}
		for _, sk := range skills {
			dir := filepath.Dir(sk.Source)
			if dir != filepath.Join(home, ".bot-bottle/skills") && dir != filepath.Join(home, ".claude/skills") {
				t.Fatalf("skill %q resolved outside the skill folders: %s", name, sk.Source)
			}
		}
	})
}
