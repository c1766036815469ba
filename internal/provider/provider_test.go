package provider

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

func builtin(t *testing.T, name string) Spec {
	t.Helper()
	s, ok := Builtin(name)
	if !ok {
		t.Fatalf("no built-in %s", name)
	}
	return s
}

func TestCommands(t *testing.T) {
	prompt := `echo "hi; there" && ls $HOME`
	tests := []struct {
		template    string
		in          Input
		want        []string
		wantFile    string
		wantContent string
	}{
		{template: Claude, want: []string{"claude"}},
		{template: Claude, in: Input{Headless: true, Prompt: prompt}, want: []string{"claude", "-p", prompt}},
		{template: Claude, in: Input{Headless: true, Prompt: "fix it", SystemPrompt: "You are careful."},
			want: []string{"claude", "--append-system-prompt", "You are careful.", "-p", "fix it"}},
		{template: Claude, in: Input{SystemPrompt: "You are careful."},
			want: []string{"claude", "--append-system-prompt", "You are careful."}},
		{template: Codex, want: []string{"codex"}},
		{template: Codex, in: Input{Headless: true, Prompt: prompt, SystemPrompt: "Be brief."},
			want: []string{"codex", "exec", prompt}, wantFile: AgentHome + "/.codex/AGENTS.md", wantContent: "Be brief."},
		{template: Pi, in: Input{Headless: true, Prompt: prompt}, want: []string{"pi", "-p", prompt}},
		{template: Shell, want: []string{"/bin/bash", "-l"}},
		// The shell's headless prompt is one bash command line.
		{template: Shell, in: Input{Headless: true, Prompt: prompt}, want: []string{"/bin/bash", "-lc", prompt}},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			p, err := builtin(t, tt.template).Provision(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.Command); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
			if p.Image != tt.template {
				t.Errorf("image %q, want %q", p.Image, tt.template)
			}
			if tt.wantFile != "" && !hasFile(p, tt.wantFile, tt.wantContent) {
				t.Errorf("no file %s with %q in %+v", tt.wantFile, tt.wantContent, p.Files)
			}
		})
	}
}

func hasFile(p Provision, path, content string) bool {
	for _, f := range p.Files {
		if f.Path == path && f.Content == content {
			return true
		}
	}
	return false
}

func TestPromptRules(t *testing.T) {
	s := builtin(t, Shell)
	if _, err := s.Provision(Input{Headless: true}); err == nil {
		t.Error("headless without a prompt was accepted")
	}
	if _, err := s.Provision(Input{Prompt: "ls"}); err == nil {
		t.Error("a prompt without headless was accepted")
	}
}

func TestCATrustEnv(t *testing.T) {
	for _, name := range BuiltinNames() {
		p, err := builtin(t, name).Provision(Input{CAFile: "/etc/bot-bottle/ca/ca.pem"})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CODEX_CA_CERTIFICATE"} {
			if p.Env[k] != "/etc/bot-bottle/ca/ca.pem" {
				t.Errorf("%s: %s=%q", name, k, p.Env[k])
			}
		}
	}
}

func TestClaudeAuthToken(t *testing.T) {
	spec := builtin(t, Claude)
	// The common case: an API key goes in x-api-key, the agent holding a
	// placeholder in ANTHROPIC_API_KEY (Claude Code sends that as x-api-key).
	p, err := spec.Provision(Input{AuthTokenEnv: "ANTHROPIC_TOKEN", AuthKind: AuthKindOf("sk-ant-api03-abc")})
	if err != nil {
		t.Fatal(err)
	}
	if ph := p.Env["ANTHROPIC_API_KEY"]; !strings.Contains(ph, "placeholder") || p.Env["CLAUDE_CODE_OAUTH_TOKEN"] != "" {
		t.Errorf("agent env = %v, want only an API-key placeholder", p.Env)
	}
	want := []manifest.Route{{
		Host: "api.anthropic.com",
		Auth: &manifest.Auth{Header: "x-api-key", TokenRef: "ANTHROPIC_TOKEN"},
		DLP:  &manifest.DLP{OutboundOnMatch: "redact"},
	}}
	if diff := cmp.Diff(want, p.Routes); diff != "" {
		t.Errorf("api key routes (-want +got):\n%s", diff)
	}
	// An OAuth token from claude setup-token goes as Bearer.
	p, err = spec.Provision(Input{AuthTokenEnv: "ANTHROPIC_TOKEN", AuthKind: AuthKindOf("sk-ant-oat01-abc")})
	if err != nil {
		t.Fatal(err)
	}
	placeholder := p.Env["CLAUDE_CODE_OAUTH_TOKEN"]
	if !strings.Contains(placeholder, "placeholder") || p.Env["ANTHROPIC_API_KEY"] != "" {
		t.Errorf("agent env = %v, want only an OAuth placeholder", p.Env)
	}
	want = []manifest.Route{{
		Host: "api.anthropic.com",
		Auth: &manifest.Auth{Scheme: "Bearer", TokenRef: "ANTHROPIC_TOKEN"},
		DLP:  &manifest.DLP{OutboundOnMatch: "redact"},
	}}
	if diff := cmp.Diff(want, p.Routes); diff != "" {
		t.Errorf("oauth routes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ANTHROPIC_TOKEN"}, p.SidecarSecretEnv); diff != "" {
		t.Errorf("sidecar secrets (-want +got):\n%s", diff)
	}
	// The template itself is not changed by provisioning.
	if spec.Auth.Routes[0].Auth.TokenRef != "" {
		t.Error("Provision wrote the token_ref into the template")
	}
	if _, err := spec.Provision(Input{AuthTokenEnv: "NOT-A-NAME"}); err == nil {
		t.Error("an invalid auth_token name was accepted")
	}
}

func TestCodexForwardHostCredentials(t *testing.T) {
	p, err := builtin(t, Codex).Provision(Input{ForwardHostCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.HostCredentials == nil || p.HostCredentials.File != ".codex/auth.json" {
		t.Fatalf("host credentials %+v", p.HostCredentials)
	}
	if len(p.Routes) != 1 || p.Routes[0].Host != "chatgpt.com" || p.Routes[0].Auth.TokenRef != CodexAccessTokenEnv {
		t.Errorf("routes %+v", p.Routes)
	}
}

func TestUnsupportedOptionsAreErrors(t *testing.T) {
	tests := map[string]struct {
		template string
		in       Input
		want     string
	}{
		"shell auth_token":   {Shell, Input{AuthTokenEnv: "TOKEN"}, "auth_token is not supported"},
		"claude forward":     {Claude, Input{ForwardHostCredentials: true}, "forward_host_credentials is not supported"},
		"shell settings":     {Shell, Input{Settings: map[string]any{"a": 1}}, "settings is not supported"},
		"pi settings":        {Pi, Input{Settings: map[string]any{"f": func() {}}}, "encoding settings"},
		"codex null":         {Codex, Input{Settings: map[string]any{"model": nil}}, "settings model: TOML has no null"},
		"codex table array":  {Codex, Input{Settings: map[string]any{"a": []any{map[string]any{"b": 1}}}}, "arrays of tables"},
		"shell bad settings": {Claude, Input{Settings: map[string]any{"f": func() {}}}, "encoding settings"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := builtin(t, tt.template).Provision(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSupervisionRegistration(t *testing.T) {
	url := "http://supervise:9100/mcp"
	tests := map[string]struct {
		setup    []Step
		warnings int
	}{
		Claude: {setup: []Step{{What: "registering the supervise MCP server",
			Argv: []string{"claude", "mcp", "add", "--scope", "user", "--transport", "http", "supervise", url}}}},
		Codex: {setup: []Step{{What: "registering the supervise MCP server",
			Argv: []string{"codex", "mcp", "add", "supervise", "--url", url}}}},
		Pi:    {warnings: 1},
		Shell: {},
	}
	for name, tt := range tests {
		p, err := builtin(t, name).Provision(Input{SuperviseURL: url})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.setup, p.Setup); diff != "" {
			t.Errorf("%s setup (-want +got):\n%s", name, diff)
		}
		if len(p.Warnings) != tt.warnings {
			t.Errorf("%s warnings %v, want %d", name, p.Warnings, tt.warnings)
		}
	}
}

func TestSettingsFile(t *testing.T) {
	p, err := builtin(t, Claude).Provision(Input{Settings: map[string]any{
		"model":       "opus",
		"permissions": map[string]any{"allow": []any{"Bash"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The user's settings merge over the template's: both survive.
	want := `{
  "model": "opus",
  "permissions": {
    "allow": [
      "Bash"
    ],
    "defaultMode": "bypassPermissions"
  },
  "skipDangerousModePermissionPrompt": true
}
`
	if !hasFile(p, AgentHome+"/.claude/settings.json", want) {
		t.Errorf("settings file missing or different: %+v", p.Files)
	}
	// A user value replaces the template's.
	p, err = builtin(t, Claude).Provision(Input{Settings: map[string]any{"permissions": map[string]any{"defaultMode": "acceptEdits"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fileContent(p, AgentHome+"/.claude/settings.json"), `"defaultMode": "acceptEdits"`) {
		t.Errorf("user defaultMode lost: %+v", p.Files)
	}
	// The template itself is not changed by merging.
	if builtin(t, Claude).DefaultSettings["permissions"].(map[string]any)["defaultMode"] != "bypassPermissions" {
		t.Error("Provision changed the template's default settings")
	}
}

func fileContent(p Provision, path string) string {
	for _, f := range p.Files {
		if f.Path == path {
			return f.Content
		}
	}
	return ""
}

func TestCodexSettingsAreTOML(t *testing.T) {
	p, err := builtin(t, Codex).Provision(Input{Settings: map[string]any{
		"model":           "gpt-5-codex",
		"approval_policy": "never",
		"sandbox_mode":    "danger-full-access",
		"model_reasoning": 1.5,
		"max_turns":       40,
		"quiet":           true,
		"notify":          []any{"a", `b"c`},
		"tools":           map[string]any{"web_search": false, "odd key": map[string]any{"x": 2.0}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `approval_policy = "never"
check_for_update_on_startup = false
max_turns = 40
model = "gpt-5-codex"
model_reasoning = 1.5
notify = ["a", "b\"c"]
quiet = true
sandbox_mode = "danger-full-access"

[analytics]
enabled = false

[projects]

[projects."/workspace"]
trust_level = "trusted"

[tools]
web_search = false

[tools."odd key"]
x = 2.0
`
	if !hasFile(p, AgentHome+"/.codex/config.toml", want) {
		t.Errorf("config.toml missing or different: %+v", p.Files)
	}
}

func TestLookup(t *testing.T) {
	s, err := Lookup("", "")
	if err != nil || s.Name != Shell {
		t.Errorf("default template %q, %v; want shell", s.Name, err)
	}
	if _, err := Lookup("nonesuch", t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a built-in") {
		t.Errorf("unknown template: %v", err)
	}
	if _, err := Lookup("../etc", t.TempDir()); err == nil {
		t.Error("a path was accepted as a template name")
	}
}

// Each template sends each kind of credential where its provider reads
// it, the agent holding a placeholder in the variable its client reads.
func TestEveryTemplateSendsEachKindWhereItsProviderReads(t *testing.T) {
	for _, tc := range []struct {
		template, kind, env, place string
	}{
		{Claude, AuthKindAPIKey, "ANTHROPIC_API_KEY", "x-api-key"},
		{Claude, AuthKindOAuth, "CLAUDE_CODE_OAUTH_TOKEN", "Bearer"},
		{Pi, AuthKindAPIKey, "ANTHROPIC_API_KEY", "x-api-key"},
		{Pi, AuthKindOAuth, "ANTHROPIC_OAUTH_TOKEN", "Bearer"},
		{Codex, AuthKindAPIKey, "OPENAI_API_KEY", "Bearer"},
	} {
		p, err := builtin(t, tc.template).Provision(Input{AuthTokenEnv: "HOST_TOKEN", AuthKind: tc.kind})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.template, tc.kind, err)
		}
		if len(p.Routes) != 1 || p.Routes[0].Auth == nil || p.Routes[0].Auth.TokenRef != "HOST_TOKEN" {
			t.Fatalf("%s %s: routes %+v", tc.template, tc.kind, p.Routes)
		}
		a := p.Routes[0].Auth
		got := a.Header
		if got == "" {
			got = a.EffectiveScheme()
		}
		if got != tc.place || !strings.Contains(p.Env[tc.env], "placeholder") || len(p.Env[tc.env]) < 40 {
			t.Errorf("%s %s: sent as %q with %s=%q, want %s", tc.template, tc.kind, got, tc.env, p.Env[tc.env], tc.place)
		}
	}
	if _, err := builtin(t, Codex).Provision(Input{AuthTokenEnv: "HOST_TOKEN", AuthKind: AuthKindOAuth}); err == nil || !strings.Contains(err.Error(), "forward_host_credentials") {
		t.Errorf("codex with an OAuth kind: %v, want a refusal pointing at forward_host_credentials", err)
	}
}
