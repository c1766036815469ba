// Package provider says how each agent template runs in a bottle: its
// image, its command for an interactive or a headless start, where skills
// go, how the supervise MCP server is registered, which CA trust variables
// it reads, and the placeholder token it sees with the route that swaps in
// the real one. Built-in templates are claude, codex, pi and shell;
// ~/.bot-bottle/contrib/<name>/provider.yaml adds more without code.
//
// Everything here is plain data for the plan and the backend. The only I/O
// is in ResolveSkills, LoadPlugin/Lookup and ReadHostCredentials, which the
// caller runs before planning or at launch.
package provider

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Agent container conventions shared with the images (images/<name>/
// Dockerfile): the user, its home and the working directory.
const (
	AgentUser    = "agent"
	AgentHome    = "/home/agent"
	AgentWorkdir = "/workspace"
)

// Placeholders in Spec commands, replaced whole-argument only: a prompt is
// always one argv element and never passes through a shell unless the
// template itself is a shell.
const (
	ArgPrompt       = "{prompt}"
	ArgSystemPrompt = "{system_prompt}"
	ArgURL          = "{url}"
)

// CAEnvVars are the variables that point tools at the bottle CA (DESIGN.md,
// the agent container).
func CAEnvVars() []string {
	return []string{"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CODEX_CA_CERTIFICATE"}
}

// Spec describes one template. Built-ins are Specs; a plugin's provider.yaml
// decodes into one.
type Spec struct {
	// Name is the template name.
	Name string
	// Description is one line for listings.
	Description string
	// Image names a built-in image (images/<Image>/Dockerfile) when
	// Dockerfile is empty.
	Image string
	// Dockerfile is the absolute host path of a plugin's Dockerfile, and
	// Context its build context; empty for built-ins.
	Dockerfile string
	Context    string
	// Command starts the agent interactively.
	Command []string
	// Headless starts it with a prompt; it holds ArgPrompt.
	Headless []string
	// SystemPromptArgs are added after the command when the agent has a
	// system prompt; they hold ArgSystemPrompt. Empty: see SystemPromptFile.
	SystemPromptArgs []string
	// SystemPromptFile is where the system prompt is written in the
	// container when SystemPromptArgs is empty ("" drops it).
	SystemPromptFile string
	// SkillsDir is the container folder skills are copied into ("": the
	// template takes no skills).
	SkillsDir string
	// HostSkillsDirs are where skills are looked up on the host, relative
	// to the user's home, first match wins.
	HostSkillsDirs []string
	// MCPRegister are commands run in the agent once it is up to register
	// the supervise MCP server; they hold ArgURL. A failure is a warning.
	MCPRegister [][]string
	// Env is the template's own (non-secret) environment.
	Env map[string]string
	// Files are written into the agent's home before it starts.
	Files []File
	// SettingsFile is where agent_provider.settings are written: TOML when
	// it ends in .toml, else JSON ("": settings are refused).
	SettingsFile string
	// DefaultSettings are the template's own settings (hardening: no
	// telemetry, no prompts the bottle makes pointless). They are always
	// written; agent_provider.settings are merged over them, key by key.
	DefaultSettings map[string]any
	// Auth is how agent_provider.auth_token reaches the agent's provider
	// API; nil: auth_token is refused.
	Auth *AuthSpec
	// OAuth, when set, is the login used instead of Auth for an OAuth
	// token (Input.AuthKind): the provider reads that kind elsewhere.
	OAuth *AuthSpec
	// HostCredentials names the credential file forward_host_credentials
	// reads; nil: forward_host_credentials is refused.
	HostCredentials *HostCredentialsSpec
}

// AuthSpec is a template's provider API login by token.
type AuthSpec struct {
	// Env is the agent variable that holds the placeholder.
	Env string
	// Placeholder is what the agent sees instead of the token. It is
	// shaped like a real token so clients accept it; it is worth nothing.
	Placeholder string
	// Routes are the provider's API routes. Each has auth.scheme set; the
	// token_ref is filled with agent_provider.auth_token.
	Routes []manifest.Route
}

// HostCredentialsSpec is a login forwarded from the host's own files.
type HostCredentialsSpec struct {
	// Kind selects the reader: "codex" is the only one.
	Kind string
	// File is the host credential file, relative to the user's home.
	File string
}

// Input is what a Provision is made from. The plan fills it.
type Input struct {
	// Headless starts the agent with Prompt instead of interactively.
	Headless bool
	Prompt   string
	// SystemPrompt is the agent manifest's body.
	SystemPrompt string
	// AuthTokenEnv is agent_provider.auth_token: the host env var holding
	// the provider token.
	AuthTokenEnv string
	// AuthKind is AuthKindFor the bottle's auth_kind and the token's
	// value (AuthKindAPIKey when unknown): which of the template's logins
	// to use. AuthKindOAuth on a template with no OAuth login is refused.
	AuthKind string
	// ForwardHostCredentials is agent_provider.forward_host_credentials.
	ForwardHostCredentials bool
	// Settings is agent_provider.settings.
	Settings map[string]any
	// Skills are resolved by ResolveSkills.
	Skills []Skill
	// SuperviseURL is where the agent reaches the supervise MCP server
	// (the backend's Endpoints; http://supervise:9100/ on Docker).
	SuperviseURL string
	// CAFile is the bottle CA in the agent container.
	CAFile string
}

// Provision is how one bottle's agent is set up: plain data for the plan
// and the backend.
type Provision struct {
	// Template is the template name.
	Template string `json:"template"`
	// Image is the built-in image name; empty for a plugin.
	Image string `json:"image,omitempty"`
	// Dockerfile and Context build a plugin's image.
	Dockerfile string `json:"dockerfile,omitempty"`
	Context    string `json:"context,omitempty"`
	// Command is the agent's argv.
	Command []string `json:"command"`
	// Env is added to the agent's environment: CA trust, the placeholder
	// token, the template's own. No secret values.
	Env map[string]string `json:"env"`
	// Files are written under the agent's home before it starts.
	Files []File `json:"files,omitempty"`
	// Skills are copied from the host before the agent starts.
	Skills []Skill `json:"skills,omitempty"`
	// Setup runs in the agent after start, before the command; a failing
	// step is a warning.
	Setup []Step `json:"setup,omitempty"`
	// Routes are added to the bottle's egress policy (token slots only).
	Routes []manifest.Route `json:"routes,omitempty"`
	// SidecarSecretEnv are host env var names whose values the sidecar
	// needs (the auth token).
	SidecarSecretEnv []string `json:"sidecar_secret_env,omitempty"`
	// HostCredentials, when set, is read at launch by ReadHostCredentials.
	HostCredentials *HostCredentialsSpec `json:"host_credentials,omitempty"`
	// Warnings are things the user should know (a template that cannot
	// register the supervise server, say).
	Warnings []string `json:"warnings,omitempty"`
}

// File is one file written into the agent container.
type File struct {
	// Path is absolute in the container.
	Path string `json:"path"`
	// Content is the whole file.
	Content string `json:"content"`
	// Mode is the file mode (0644 when zero).
	Mode uint32 `json:"mode,omitempty"`
}

// Step is one setup command run in the agent container.
type Step struct {
	// What says what the step does, for warnings.
	What string `json:"what"`
	// Argv is the command.
	Argv []string `json:"argv"`
}

// Provision applies in to the template. It does no I/O.
func (s Spec) Provision(in Input) (Provision, error) {
	p := Provision{
		Template:   s.Name,
		Image:      s.Image,
		Dockerfile: s.Dockerfile,
		Context:    s.Context,
		Env:        map[string]string{},
		Files:      slices.Clone(s.Files),
	}
	var err error
	if p.Command, err = s.command(in); err != nil {
		return Provision{}, err
	}
	if in.SystemPrompt != "" && len(s.SystemPromptArgs) == 0 && s.SystemPromptFile != "" {
		p.Files = append(p.Files, File{Path: s.SystemPromptFile, Content: in.SystemPrompt})
	}

	maps.Copy(p.Env, s.Env)
	if in.CAFile != "" {
		for _, k := range CAEnvVars() {
			p.Env[k] = in.CAFile
		}
	}

	if len(in.Skills) > 0 {
		if s.SkillsDir == "" {
			return Provision{}, fmt.Errorf("provisioning %s: the template takes no skills", s.Name)
		}
		for _, sk := range in.Skills {
			sk.Target = s.SkillsDir + "/" + sk.Name
			p.Skills = append(p.Skills, sk)
		}
	}

	if len(in.Settings) > 0 || len(s.DefaultSettings) > 0 {
		f, err := s.settingsFile(mergeSettings(s.DefaultSettings, in.Settings))
		if err != nil {
			return Provision{}, err
		}
		p.Files = append(p.Files, f)
	}

	if in.SuperviseURL != "" {
		if len(s.MCPRegister) == 0 && s.mcpWarns() {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s cannot register MCP servers: the supervise tools are not available to the agent", s.Name))
		}
		for _, argv := range s.MCPRegister {
			p.Setup = append(p.Setup, Step{What: "registering the supervise MCP server", Argv: substitute(argv, ArgURL, in.SuperviseURL)})
		}
	}

	if in.AuthTokenEnv != "" {
		if s.Auth == nil {
			return Provision{}, fmt.Errorf("provisioning %s: agent_provider.auth_token is not supported by this template", s.Name)
		}
		if !manifest.ValidEnvName(in.AuthTokenEnv) {
			return Provision{}, fmt.Errorf("provisioning %s: auth_token %q is not an environment variable name", s.Name, in.AuthTokenEnv)
		}
		auth := s.Auth
		if in.AuthKind == AuthKindOAuth {
			if s.OAuth == nil {
				return Provision{}, fmt.Errorf("provisioning %s: agent_provider.auth_kind oauth: the template takes only an API key in auth_token%s", s.Name, s.oauthHint())
			}
			auth = s.OAuth
		}
		p.Env[auth.Env] = auth.Placeholder
		for _, r := range auth.Routes {
			p.Routes = append(p.Routes, withToken(r, in.AuthTokenEnv))
		}
		p.SidecarSecretEnv = append(p.SidecarSecretEnv, in.AuthTokenEnv)
	}
	if in.ForwardHostCredentials {
		if s.HostCredentials == nil {
			return Provision{}, fmt.Errorf("provisioning %s: agent_provider.forward_host_credentials is not supported by this template", s.Name)
		}
		hc := *s.HostCredentials
		p.HostCredentials = &hc
		p.Routes = append(p.Routes, hostCredentialRoutes(hc)...)
	}
	return p, nil
}

// mergeSettings returns over laid on base: maps merge key by key, any
// other value in over replaces base's. Neither argument is changed.
func mergeSettings(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		if m, ok := v.(map[string]any); ok {
			v = mergeSettings(m, nil)
		}
		out[k] = v
	}
	for k, v := range over {
		om, ok1 := v.(map[string]any)
		bm, ok2 := out[k].(map[string]any)
		if ok1 && ok2 {
			v = mergeSettings(bm, om)
		}
		out[k] = v
	}
	return out
}

// command builds the agent's argv.
func (s Spec) command(in Input) ([]string, error) {
	if !in.Headless {
		if in.Prompt != "" {
			return nil, fmt.Errorf("provisioning %s: a prompt needs --headless", s.Name)
		}
		return append(slices.Clone(s.Command), s.systemPromptArgs(in)...), nil
	}
	if strings.TrimSpace(in.Prompt) == "" {
		return nil, fmt.Errorf("provisioning %s: --headless needs a prompt", s.Name)
	}
	if len(s.Headless) == 0 {
		return nil, fmt.Errorf("provisioning %s: the template has no headless mode", s.Name)
	}
	argv := substitute(s.Headless, ArgPrompt, in.Prompt)
	// System prompt flags go before the prompt-bearing tail: after the
	// program name.
	if extra := s.systemPromptArgs(in); len(extra) > 0 {
		argv = slices.Concat(argv[:1], extra, argv[1:])
	}
	return argv, nil
}

func (s Spec) systemPromptArgs(in Input) []string {
	if in.SystemPrompt == "" || len(s.SystemPromptArgs) == 0 {
		return nil
	}
	return substitute(s.SystemPromptArgs, ArgSystemPrompt, in.SystemPrompt)
}

// substitute replaces every argument equal to placeholder with value.
func substitute(argv []string, placeholder, value string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == placeholder {
			a = value
		}
		out[i] = a
	}
	return out
}

// withToken returns a deep enough copy of r with its token_ref set.
func withToken(r manifest.Route, env string) manifest.Route {
	if r.Auth != nil {
		a := *r.Auth
		a.TokenRef = env
		r.Auth = &a
	}
	return r
}
