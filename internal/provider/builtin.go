package provider

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Built-in template names.
const (
	Claude = "claude"
	Codex  = "codex"
	Pi     = "pi"
	Shell  = "shell"
	// Default runs when a bottle chain names no template.
	Default = Shell
)

// CodexAccessTokenEnv is the sidecar variable that holds the host's Codex
// access token when forward_host_credentials is on. Set at launch from
// ~/.codex/auth.json; never in the agent.
const CodexAccessTokenEnv = "BOT_BOTTLE_CODEX_ACCESS_TOKEN"

// BuiltinNames lists the built-in templates.
func BuiltinNames() []string { return []string{Claude, Codex, Pi, Shell} }

// redact is the DLP every provider API route gets: prompts routinely carry
// code, and holding a model call for a human stalls the agent, so a secret
// found on the way out is masked rather than held.
func redact() *manifest.DLP { return &manifest.DLP{OutboundOnMatch: "redact"} }

// Anthropic placeholders, shaped like an OAuth token and an API key.
const (
	anthropicPlaceholder       = "sk-ant-oat01-bot-bottle-placeholder-the-sidecar-injects-the-real-token"
	anthropicAPIKeyPlaceholder = "sk-ant-api03-bot-bottle-placeholder-the-sidecar-injects-the-real-key"
)

// bearerAuth is a provider login whose token the sidecar injects as
// "Authorization: Bearer" on host, the agent holding placeholder in env.
func bearerAuth(env, placeholder, host string) *AuthSpec {
	return headerAuth(env, placeholder, host, manifest.Auth{Scheme: "Bearer"})
}

// headerAuth is a provider login whose token the sidecar puts where a says.
func headerAuth(env, placeholder, host string, a manifest.Auth) *AuthSpec {
	return &AuthSpec{
		Env:         env,
		Placeholder: placeholder,
		Routes: []manifest.Route{{
			Host: host,
			Auth: &a,
			DLP:  redact(),
		}},
	}
}

// anthropicAPIKey is an Anthropic API key: the agent's client reads
// ANTHROPIC_API_KEY and sends x-api-key, which is where the route puts it.
func anthropicAPIKey() *AuthSpec {
	return headerAuth("ANTHROPIC_API_KEY", anthropicAPIKeyPlaceholder, "api.anthropic.com", manifest.Auth{Header: "x-api-key"})
}

// Kinds of provider credential (Input.AuthKind, agent_provider.auth_kind).
const (
	AuthKindAPIKey = manifest.AuthKindAPIKey
	AuthKindOAuth  = manifest.AuthKindOAuth
)

// AuthKindOf tells an OAuth token from an API key by its shape, so the
// token goes where the provider reads that kind: Anthropic's OAuth tokens
// (claude setup-token) start sk-ant-oat; anything else is an API key.
// Only the kind is returned, never any part of the value.
func AuthKindOf(value string) string {
	if strings.HasPrefix(value, "sk-ant-oat") {
		return AuthKindOAuth
	}
	return AuthKindAPIKey
}

// AuthKindFor is the kind of credential a bottle's auth_token holds: the
// bottle's agent_provider.auth_kind when it says, else AuthKindOf value.
func AuthKindFor(explicit, value string) string {
	if explicit != "" {
		return explicit
	}
	return AuthKindOf(value)
}

// claudeEnv turns off Claude Code's traffic beyond model calls. The
// umbrella switch covers the others today; each is set as well so a
// release that narrows it changes nothing here. images/claude/Dockerfile
// sets the same.
func claudeEnv() map[string]string {
	return map[string]string{
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
		"DISABLE_AUTOUPDATER":                      "1",
		"DISABLE_TELEMETRY":                        "1",
		"DISABLE_ERROR_REPORTING":                  "1",
		"DISABLE_BUG_COMMAND":                      "1",
		"CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY":      "1",
	}
}

// codexSettings are config.toml defaults: no approvals and no Codex
// sandbox (the bottle is the sandbox; Codex's own needs namespaces a
// container rarely grants), no update check, no analytics, /workspace
// trusted.
func codexSettings() map[string]any {
	return map[string]any{
		"approval_policy":             "never",
		"sandbox_mode":                "danger-full-access",
		"check_for_update_on_startup": false,
		"analytics":                   map[string]any{"enabled": false},
		"projects":                    map[string]any{AgentWorkdir: map[string]any{"trust_level": "trusted"}},
	}
}

// piEnv turns off pi's startup network calls (update and package checks,
// install telemetry). images/pi/Dockerfile sets the same.
func piEnv() map[string]string {
	return map[string]string{
		"PI_OFFLINE":            "1",
		"PI_SKIP_VERSION_CHECK": "1",
	}
}

// Builtin returns the built-in template called name.
func Builtin(name string) (Spec, bool) {
	home := AgentHome
	switch name {
	case Claude:
		return Spec{
			Name:             Claude,
			Description:      "Claude Code",
			Image:            Claude,
			Command:          []string{"claude"},
			Headless:         []string{"claude", "-p", ArgPrompt},
			SystemPromptArgs: []string{"--append-system-prompt", ArgSystemPrompt},
			SkillsDir:        home + "/.claude/skills",
			HostSkillsDirs:   []string{".bot-bottle/skills", ".claude/skills"},
			MCPRegister: [][]string{{
				"claude", "mcp", "add", "--scope", "user", "--transport", "http", "supervise", ArgURL,
			}},
			// Hardening (docs/providers.md, "Hardening"): nothing leaves the
			// bottle but model calls, and no prompt waits for a human the
			// bottle replaces.
			Env: claudeEnv(),
			// Skip the first-run screens and the folder trust prompt (the
			// bottle is the boundary); `claude mcp add` merges into it.
			Files: []File{{
				Path: home + "/.claude.json",
				// customApiKeyResponses approves the API-key placeholder (by
				// its last 20 characters, as Claude Code records it), so an
				// interactive start does not stop to ask about it.
				Content: `{"hasCompletedOnboarding":true,"customApiKeyResponses":{"approved":["` + anthropicAPIKeyPlaceholder[len(anthropicAPIKeyPlaceholder)-20:] + `"],"rejected":[]},"projects":{"` + AgentWorkdir + `":{"hasTrustDialogAccepted":true}}}` + "\n",
				Mode:    0o600,
			}},
			// The bottle, not Claude Code's prompts, is the boundary: a
			// headless run cannot answer them, and an interactive one would
			// train the user to click yes.
			DefaultSettings: map[string]any{
				"permissions":                       map[string]any{"defaultMode": "bypassPermissions"},
				"skipDangerousModePermissionPrompt": true,
			},
			SettingsFile: home + "/.claude/settings.json",
			// An API key goes in x-api-key; an OAuth token (`claude
			// setup-token`) in Authorization: Bearer.
			Auth:  anthropicAPIKey(),
			OAuth: bearerAuth("CLAUDE_CODE_OAUTH_TOKEN", anthropicPlaceholder, "api.anthropic.com"),
		}, true
	case Codex:
		return Spec{
			Name:             Codex,
			Description:      "OpenAI Codex CLI",
			Image:            Codex,
			Command:          []string{"codex"},
			Headless:         []string{"codex", "exec", ArgPrompt},
			SystemPromptFile: home + "/.codex/AGENTS.md",
			SkillsDir:        home + "/.codex/skills",
			HostSkillsDirs:   []string{".bot-bottle/skills", ".codex/skills"},
			MCPRegister:      [][]string{{"codex", "mcp", "add", "supervise", "--url", ArgURL}},
			// `codex mcp add` merges into the same file afterwards.
			SettingsFile:    home + "/.codex/config.toml",
			DefaultSettings: codexSettings(),
			Auth:            bearerAuth("OPENAI_API_KEY", "sk-proj-bot-bottle-placeholder-the-sidecar-injects-the-real-key", "api.openai.com"),
			HostCredentials: &HostCredentialsSpec{Kind: Codex, File: ".codex/auth.json"},
		}, true
	case Pi:
		return Spec{
			Name:             Pi,
			Description:      "pi coding agent",
			Image:            Pi,
			Command:          []string{"pi"},
			Headless:         []string{"pi", "-p", ArgPrompt},
			SystemPromptFile: home + "/.pi/agent/AGENTS.md",
			SkillsDir:        home + "/.pi/agent/skills",
			HostSkillsDirs:   []string{".bot-bottle/skills", ".pi/agent/skills"},
			SettingsFile:     home + "/.pi/agent/settings.json",
			Env:              piEnv(),
			DefaultSettings: map[string]any{
				// The install/update ping to pi.dev.
				"enableInstallTelemetry": false,
				// /workspace is the bottle's own; no trust prompt.
				"defaultProjectTrust": "always",
			},
			Auth:  anthropicAPIKey(),
			OAuth: bearerAuth("ANTHROPIC_OAUTH_TOKEN", anthropicPlaceholder, "api.anthropic.com"),
		}, true
	case Shell:
		return Spec{
			Name:        Shell,
			Description: "a plain Debian shell with git and curl",
			Image:       Shell,
			Command:     []string{"/bin/bash", "-l"},
			// The headless prompt is a bash command line.
			Headless:       []string{"/bin/bash", "-lc", ArgPrompt},
			SkillsDir:      home + "/skills",
			HostSkillsDirs: []string{".bot-bottle/skills"},
		}, true
	}
	return Spec{}, false
}

// mcpWarns reports whether a template without MCPRegister should warn that
// the supervise tools are missing: every agent but the plain shell.
func (s Spec) mcpWarns() bool { return s.Name != Shell }

// settingsFile renders agent_provider.settings as the template's settings
// file: TOML when its name ends in .toml, JSON otherwise.
func (s Spec) settingsFile(settings map[string]any) (File, error) {
	if s.SettingsFile == "" {
		return File{}, fmt.Errorf("provisioning %s: agent_provider.settings is not supported by this template", s.Name)
	}
	var content string
	if strings.HasSuffix(s.SettingsFile, ".toml") {
		t, err := encodeTOML(settings)
		if err != nil {
			return File{}, fmt.Errorf("provisioning %s: encoding settings: %w", s.Name, err)
		}
		content = t
	} else {
		b, err := json.MarshalIndent(settings, "", "  ")
		if err != nil {
			return File{}, fmt.Errorf("provisioning %s: encoding settings: %w", s.Name, err)
		}
		content = string(b) + "\n"
	}
	return File{Path: s.SettingsFile, Content: content, Mode: 0o600}, nil
}

// hostCredentialRoutes are the routes a forwarded login needs.
func hostCredentialRoutes(hc HostCredentialsSpec) []manifest.Route {
	switch hc.Kind {
	case Codex:
		// ChatGPT sign-in: Codex calls the ChatGPT backend with the access
		// token from auth.json.
		return []manifest.Route{{
			Host:    "chatgpt.com",
			Auth:    &manifest.Auth{Scheme: "Bearer", TokenRef: CodexAccessTokenEnv},
			Matches: []manifest.Match{{Paths: []manifest.PathMatch{{Type: "prefix", Value: "/backend-api/"}}}},
			DLP:     redact(),
		}}
	}
	return nil
}

// Lookup finds a template: a built-in, or a plugin in contribDir
// (~/.bot-bottle/contrib). An empty name is the default template.
func Lookup(name, contribDir string) (Spec, error) {
	if name == "" {
		name = Default
	}
	if s, ok := Builtin(name); ok {
		return s, nil
	}
	if !pluginNameRE.MatchString(name) {
		return Spec{}, fmt.Errorf("looking up provider %q: not a template name", name)
	}
	if contribDir == "" {
		return Spec{}, fmt.Errorf("looking up provider %q: not a built-in (%v) and no contrib directory", name, BuiltinNames())
	}
	s, err := LoadPlugin(contribDir, name)
	if err != nil {
		return Spec{}, err
	}
	return s, nil
}

// isBuiltin reports whether name is a built-in template.
func isBuiltin(name string) bool { return slices.Contains(BuiltinNames(), name) }

// oauthHint says where an OAuth-style login goes for a template that
// takes only an API key in auth_token.
func (s Spec) oauthHint() string {
	if s.HostCredentials != nil {
		return " (for your own sign-in, set forward_host_credentials: true instead)"
	}
	return " (set auth_kind: api_key if the value is one)"
}
