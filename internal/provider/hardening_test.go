package provider

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// switchCheck is one hardening switch a template must set: an env var, a
// JSON value at a path in a file, or a TOML key in a table of a file.
type switchCheck struct {
	env      string // env var name
	file     string // or a file
	jsonPath []string
	table    string // TOML table ("" is the top level)
	key      string // TOML key
	want     any    // env: string; JSON: decoded value; TOML: the value's text
}

// hardening lists every switch docs/providers.md promises, per template.
// Deleting one from builtin.go fails a subtest here.
var hardening = map[string][]switchCheck{
	Claude: {
		{env: "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", want: "1"},
		{env: "DISABLE_AUTOUPDATER", want: "1"},
		{env: "DISABLE_TELEMETRY", want: "1"},
		{env: "DISABLE_ERROR_REPORTING", want: "1"},
		{env: "DISABLE_BUG_COMMAND", want: "1"},
		{env: "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY", want: "1"},
		{file: AgentHome + "/.claude.json", jsonPath: []string{"hasCompletedOnboarding"}, want: true},
		{file: AgentHome + "/.claude.json", jsonPath: []string{"projects", AgentWorkdir, "hasTrustDialogAccepted"}, want: true},
		{file: AgentHome + "/.claude/settings.json", jsonPath: []string{"permissions", "defaultMode"}, want: "bypassPermissions"},
		{file: AgentHome + "/.claude/settings.json", jsonPath: []string{"skipDangerousModePermissionPrompt"}, want: true},
	},
	Codex: {
		{file: AgentHome + "/.codex/config.toml", key: "approval_policy", want: `"never"`},
		{file: AgentHome + "/.codex/config.toml", key: "sandbox_mode", want: `"danger-full-access"`},
		{file: AgentHome + "/.codex/config.toml", key: "check_for_update_on_startup", want: "false"},
		{file: AgentHome + "/.codex/config.toml", table: "analytics", key: "enabled", want: "false"},
		{file: AgentHome + "/.codex/config.toml", table: `projects."/workspace"`, key: "trust_level", want: `"trusted"`},
	},
	Pi: {
		{env: "PI_OFFLINE", want: "1"},
		{env: "PI_SKIP_VERSION_CHECK", want: "1"},
		{file: AgentHome + "/.pi/agent/settings.json", jsonPath: []string{"enableInstallTelemetry"}, want: false},
		{file: AgentHome + "/.pi/agent/settings.json", jsonPath: []string{"defaultProjectTrust"}, want: "always"},
	},
	Shell: nil,
}

func (c switchCheck) name() string {
	switch {
	case c.env != "":
		return c.env
	case c.jsonPath != nil:
		return filepath.Base(c.file) + ":" + strings.Join(c.jsonPath, ".")
	}
	return filepath.Base(c.file) + ":" + c.table + "." + c.key
}

// check reports what is wrong with p for c, or "".
func (c switchCheck) check(p Provision) string {
	if c.env != "" {
		if got, ok := p.Env[c.env]; !ok || got != c.want {
			return "env " + c.env + "=" + got
		}
		return ""
	}
	content := fileContent(p, c.file)
	if content == "" {
		return "no file " + c.file
	}
	if c.jsonPath != nil {
		var v any
		if err := json.Unmarshal([]byte(content), &v); err != nil {
			return "not JSON: " + err.Error()
		}
		for _, k := range c.jsonPath {
			m, ok := v.(map[string]any)
			if !ok {
				return "no " + strings.Join(c.jsonPath, ".")
			}
			v = m[k]
		}
		if v != c.want {
			b, _ := json.Marshal(v)
			return "got " + string(b)
		}
		return ""
	}
	if got, ok := tomlLookup(content, c.table, c.key); !ok || got != c.want {
		return "got " + got
	}
	return ""
}

// tomlLookup finds `key = value` in [table] of what encodeTOML writes.
func tomlLookup(content, table, key string) (string, bool) {
	cur := ""
	for _, line := range strings.Split(content, "\n") {
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			cur = line[1 : len(line)-1]
			continue
		}
		if k, v, ok := strings.Cut(line, " = "); ok && cur == table && k == key {
			return v, true
		}
	}
	return "", false
}

func TestHardeningSwitches(t *testing.T) {
	for _, name := range BuiltinNames() {
		checks, ok := hardening[name]
		if !ok {
			t.Fatalf("no hardening table for %s", name)
		}
		// With and without user settings, headless and not: the switches
		// hold in every shape of start.
		inputs := map[string]Input{
			"interactive": {},
			"headless":    {Headless: true, Prompt: "fix it", CAFile: "/ca.pem"},
		}
		if builtin(t, name).Auth != nil {
			inputs["auth token"] = Input{AuthTokenEnv: "TOKEN"}
		}
		if builtin(t, name).SettingsFile != "" {
			inputs["user settings"] = Input{Settings: map[string]any{"model": "m", "permissions": map[string]any{"allow": []any{"Bash"}}}}
		}
		for iname, in := range inputs {
			p, err := builtin(t, name).Provision(in)
			if err != nil {
				t.Fatalf("%s %s: %v", name, iname, err)
			}
			for _, c := range checks {
				t.Run(name+"/"+iname+"/"+c.name(), func(t *testing.T) {
					if msg := c.check(p); msg != "" {
						t.Error(msg)
					}
				})
			}
		}
	}
}

// Every provider API route, built-in or forwarded login, redacts what DLP
// finds rather than holding the model call.
func TestProviderRoutesRedact(t *testing.T) {
	for _, name := range BuiltinNames() {
		s := builtin(t, name)
		var routes []manifest.Route
		if s.Auth != nil {
			p, err := s.Provision(Input{AuthTokenEnv: "TOKEN"})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Routes) == 0 {
				t.Errorf("%s: auth_token adds no route", name)
			}
			routes = append(routes, p.Routes...)
		}
		if s.HostCredentials != nil {
			p, err := s.Provision(Input{ForwardHostCredentials: true})
			if err != nil {
				t.Fatal(err)
			}
			routes = append(routes, p.Routes...)
		}
		for _, r := range routes {
			if r.DLP == nil || r.DLP.OutboundOnMatch != "redact" {
				t.Errorf("%s route %s: dlp %+v, want outbound_on_match redact", name, r.Host, r.DLP)
			}
			if r.Auth == nil || r.Auth.TokenRef == "" {
				t.Errorf("%s route %s: no token_ref", name, r.Host)
			}
		}
	}
}

func TestPluginRoutesRedactByDefault(t *testing.T) {
	s, err := ParsePlugin("aider", []byte(`command: [aider]
auth:
  env: OPENAI_API_KEY
  placeholder: sk-proj-bot-bottle-placeholder
  routes:
    - host: api.openai.com
      auth: {scheme: Bearer}
    - host: other.example
      auth: {scheme: Bearer}
      dlp: {outbound_detectors: [token_patterns]}
    - host: third.example
      auth: {scheme: Bearer}
      dlp: {outbound_on_match: block}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"redact", "redact", "block"}
	for i, r := range s.Auth.Routes {
		if r.DLP == nil || r.DLP.OutboundOnMatch != want[i] {
			t.Errorf("route %s: dlp %+v, want %s", r.Host, r.DLP, want[i])
		}
	}
	if d := s.Auth.Routes[1].DLP.OutboundDetectors; d == nil || len(d.Names) != 1 {
		t.Errorf("route %s lost its detectors: %+v", s.Auth.Routes[1].Host, d)
	}
}

// The real token never reaches what the agent gets: Provision sees only
// the variable's name, and the placeholder is a fixed, obviously fake
// string.
func TestNoRealTokenInProvision(t *testing.T) {
	const real = "sk-ant-oat01-REAL-SECRET-VALUE-0123456789abcdef"
	t.Setenv("PROVIDER_TOKEN", real)
	plugin, err := ParsePlugin("aider", []byte(`command: [aider]
headless: [aider, --message, "{prompt}"]
settings_file: /home/agent/.aider.conf.json
auth:
  env: OPENAI_API_KEY
  placeholder: sk-proj-placeholder
  routes: [{host: api.openai.com, auth: {scheme: Bearer}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	specs := []Spec{plugin}
	for _, name := range BuiltinNames() {
		if s := builtin(t, name); s.Auth != nil {
			specs = append(specs, s)
		}
	}
	for _, s := range specs {
		for _, headless := range []bool{false, true} {
			in := Input{AuthTokenEnv: "PROVIDER_TOKEN", SuperviseURL: "http://supervise:9100/mcp", CAFile: "/ca.pem",
				SystemPrompt: "be careful", Settings: map[string]any{"model": "m"}}
			if headless {
				in.Headless, in.Prompt = true, "fix it"
			}
			p, err := s.Provision(in)
			if err != nil {
				t.Fatalf("%s: %v", s.Name, err)
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), real) || strings.Contains(string(b), real[12:]) {
				t.Errorf("%s: the real token is in the provision: %s", s.Name, b)
			}
			ph := p.Env[s.Auth.Env]
			if ph != s.Auth.Placeholder || !strings.Contains(ph, "placeholder") {
				t.Errorf("%s: agent token %q is not the fixed placeholder", s.Name, ph)
			}
			if isBuiltin(s.Name) && !strings.Contains(ph, "bot-bottle-placeholder") {
				t.Errorf("%s: placeholder %q does not say bot-bottle-placeholder", s.Name, ph)
			}
			if len(p.SidecarSecretEnv) != 1 || p.SidecarSecretEnv[0] != "PROVIDER_TOKEN" {
				t.Errorf("%s: sidecar secrets %v", s.Name, p.SidecarSecretEnv)
			}
		}
	}
}
