package provider

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Plugin files in ~/.bot-bottle/contrib/<name>/.
const (
	PluginFile     = "provider.yaml"
	PluginDocker   = "Dockerfile"
	maxPluginBytes = 64 << 10
)

var pluginNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// PluginFileSpec is provider.yaml, key for key. Unknown keys are errors.
type PluginFileSpec struct {
	// Description is one line for listings.
	Description string `yaml:"description"`
	// Command starts the agent interactively (required).
	Command []string `yaml:"command"`
	// Headless starts it with a prompt: one argument is exactly "{prompt}".
	Headless []string `yaml:"headless,omitempty"`
	// SystemPrompt says how the agent manifest's body reaches the agent.
	SystemPrompt *PluginSystemPrompt `yaml:"system_prompt,omitempty"`
	// Skills says where skills go.
	Skills *PluginSkills `yaml:"skills,omitempty"`
	// MCPRegister are commands that register the supervise MCP server;
	// one argument of each is exactly "{url}".
	MCPRegister [][]string `yaml:"mcp_register,omitempty"`
	// Env is set in the agent (no secrets: this is not where tokens go).
	Env map[string]string `yaml:"env,omitempty"`
	// SettingsFile is where agent_provider.settings are written, under
	// /home/agent: as TOML when the name ends in .toml, else as JSON.
	SettingsFile string `yaml:"settings_file,omitempty"`
	// Auth is how agent_provider.auth_token is used.
	Auth *PluginAuth `yaml:"auth,omitempty"`
}

// PluginSystemPrompt: args (holding "{system_prompt}") or a file under
// /home/agent, not both.
type PluginSystemPrompt struct {
	Args []string `yaml:"args,omitempty"`
	File string   `yaml:"file,omitempty"`
}

// PluginSkills says where skills go.
type PluginSkills struct {
	// Dir is the folder in the container, under /home/agent.
	Dir string `yaml:"dir"`
	// HostDirs are looked up on the host, relative to the home directory.
	// Default: [.bot-bottle/skills].
	HostDirs []string `yaml:"host_dirs,omitempty"`
}

// PluginAuth is the provider API login by token.
type PluginAuth struct {
	// Env is the agent variable holding the placeholder.
	Env string `yaml:"env"`
	// Placeholder is what the agent sees instead of the token.
	Placeholder string `yaml:"placeholder"`
	// Routes are the provider's API routes; each sets auth.scheme and
	// leaves token_ref out (it is agent_provider.auth_token).
	Routes []manifest.Route `yaml:"routes"`
}

// LoadPlugin reads contribDir/<name>/provider.yaml and checks that the
// Dockerfile beside it exists.
func LoadPlugin(contribDir, name string) (Spec, error) {
	if !pluginNameRE.MatchString(name) {
		return Spec{}, fmt.Errorf("loading provider plugin %q: not a valid name", name)
	}
	if isBuiltin(name) {
		return Spec{}, fmt.Errorf("loading provider plugin %q: the name is a built-in template", name)
	}
	dir := filepath.Join(contribDir, name)
	file := filepath.Join(dir, PluginFile)
	data, err := readSmall(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Spec{}, fmt.Errorf("looking up provider %q: not a built-in (%s) and no %s", name, strings.Join(BuiltinNames(), ", "), file)
		}
		return Spec{}, fmt.Errorf("loading provider plugin %s: %w", file, err)
	}
	dockerfile := filepath.Join(dir, PluginDocker)
	if fi, err := os.Stat(dockerfile); err != nil || !fi.Mode().IsRegular() {
		return Spec{}, fmt.Errorf("loading provider plugin %s: no %s beside it", file, PluginDocker)
	}
	spec, err := ParsePlugin(name, data)
	if err != nil {
		return Spec{}, fmt.Errorf("loading provider plugin %s: %w", file, err)
	}
	spec.Dockerfile = dockerfile
	spec.Context = dir
	return spec, nil
}

func readSmall(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPluginBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPluginBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxPluginBytes)
	}
	return data, nil
}

// ParsePlugin decodes and validates provider.yaml for the plugin name.
func ParsePlugin(name string, data []byte) (Spec, error) {
	var w PluginFileSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&w); err != nil {
		if errors.Is(err, io.EOF) {
			return Spec{}, errors.New("empty file")
		}
		return Spec{}, err
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		return Spec{}, errors.New("more than one YAML document")
	}
	return w.spec(name)
}

// spec validates the wire form into a Spec.
func (w PluginFileSpec) spec(name string) (Spec, error) {
	s := Spec{Name: name, Description: w.Description, Env: map[string]string{}}
	if err := checkArgv("command", w.Command, ""); err != nil {
		return Spec{}, err
	}
	s.Command = w.Command
	if len(w.Headless) > 0 {
		if err := checkArgv("headless", w.Headless, ArgPrompt); err != nil {
			return Spec{}, err
		}
		s.Headless = w.Headless
	}
	if sp := w.SystemPrompt; sp != nil {
		switch {
		case len(sp.Args) > 0 && sp.File != "":
			return Spec{}, errors.New("system_prompt: set args or file, not both")
		case len(sp.Args) > 0:
			if err := checkArgv("system_prompt.args", slices.Concat([]string{"x"}, sp.Args), ArgSystemPrompt); err != nil {
				return Spec{}, err
			}
			s.SystemPromptArgs = sp.Args
		case sp.File != "":
			p, err := homePath("system_prompt.file", sp.File)
			if err != nil {
				return Spec{}, err
			}
			s.SystemPromptFile = p
		default:
			return Spec{}, errors.New("system_prompt: set args or file")
		}
	}
	if sk := w.Skills; sk != nil {
		p, err := homePath("skills.dir", sk.Dir)
		if err != nil {
			return Spec{}, err
		}
		s.SkillsDir = p
		s.HostSkillsDirs = []string{".bot-bottle/skills"}
		if len(sk.HostDirs) > 0 {
			s.HostSkillsDirs = nil
			for _, d := range sk.HostDirs {
				if d == "" || path.IsAbs(d) || !filepath.IsLocal(d) {
					return Spec{}, fmt.Errorf("skills.host_dirs: %q is not a path inside the home directory", d)
				}
				s.HostSkillsDirs = append(s.HostSkillsDirs, d)
			}
		}
	}
	for i, argv := range w.MCPRegister {
		if err := checkArgv(fmt.Sprintf("mcp_register[%d]", i), argv, ArgURL); err != nil {
			return Spec{}, err
		}
	}
	s.MCPRegister = w.MCPRegister
	for k, v := range w.Env {
		if !manifest.ValidEnvName(k) {
			return Spec{}, fmt.Errorf("env: %q is not an environment variable name", k)
		}
		if reservedEnv(k) {
			return Spec{}, fmt.Errorf("env: %s is set by bot-bottle", k)
		}
		s.Env[k] = v
	}
	if w.SettingsFile != "" {
		p, err := homePath("settings_file", w.SettingsFile)
		if err != nil {
			return Spec{}, err
		}
		s.SettingsFile = p
	}
	if w.Auth != nil {
		a, err := w.Auth.spec()
		if err != nil {
			return Spec{}, err
		}
		s.Auth = a
	}
	return s, nil
}

func (a PluginAuth) spec() (*AuthSpec, error) {
	if !manifest.ValidEnvName(a.Env) || reservedEnv(a.Env) {
		return nil, fmt.Errorf("auth.env: %q is not a usable environment variable name", a.Env)
	}
	if strings.TrimSpace(a.Placeholder) == "" {
		return nil, errors.New("auth.placeholder: required")
	}
	// The agent's token must be worthless anywhere: say so in the value
	// itself, so it is never a real token pasted in by mistake.
	if !strings.Contains(strings.ToLower(a.Placeholder), "placeholder") {
		return nil, errors.New(`auth.placeholder: must contain the word "placeholder" (it is what the agent sees instead of the token)`)
	}
	if len(a.Routes) == 0 {
		return nil, errors.New("auth.routes: at least one route is required")
	}
	for i, r := range a.Routes {
		switch {
		case r.Host == "":
			return nil, fmt.Errorf("auth.routes[%d]: host is required", i)
		case r.Auth == nil || r.Auth.Placement() == manifest.PlacePlaceholder || r.Auth.Placeholder != "":
			return nil, fmt.Errorf("auth.routes[%d]: auth needs one of scheme (Bearer or token), header, basic_user or query, and no placeholder (the template's placeholder is what the agent holds)", i)
		case r.Auth.Placement() == manifest.PlaceScheme && r.Auth.Scheme != "Bearer" && r.Auth.Scheme != "token":
			return nil, fmt.Errorf("auth.routes[%d]: auth.scheme must be Bearer or token", i)
		case r.Auth.TokenRef != "":
			return nil, fmt.Errorf("auth.routes[%d]: leave token_ref out: it is agent_provider.auth_token", i)
		case r.UnsafeAllowPrivate:
			return nil, fmt.Errorf("auth.routes[%d]: unsafe_allow_private belongs in a bottle, not a plugin", i)
		}
	}
	routes := make([]manifest.Route, len(a.Routes))
	for i, r := range a.Routes {
		// A provider API route redacts by default, like the built-ins'.
		if r.DLP == nil {
			r.DLP = redact()
		} else if r.DLP.OutboundOnMatch == "" {
			d := *r.DLP
			d.OutboundOnMatch = "redact"
			r.DLP = &d
		}
		routes[i] = r
	}
	return &AuthSpec{Env: a.Env, Placeholder: a.Placeholder, Routes: routes}, nil
}

// checkArgv: non-empty, no empty program, and when placeholder is set,
// exactly one argument equal to it.
func checkArgv(key string, argv []string, placeholder string) error {
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		return fmt.Errorf("%s: a command is required", key)
	}
	if placeholder == "" {
		return nil
	}
	n := 0
	for _, a := range argv {
		if a == placeholder {
			n++
		} else if strings.Contains(a, placeholder) {
			return fmt.Errorf("%s: %s must be a whole argument, not part of %q", key, placeholder, a)
		}
	}
	if n != 1 {
		return fmt.Errorf("%s: exactly one argument must be %s", key, placeholder)
	}
	return nil
}

// homePath checks that p is a clean absolute path under the agent's home.
func homePath(key, p string) (string, error) {
	if !path.IsAbs(p) || path.Clean(p) != p || !strings.HasPrefix(p, AgentHome+"/") {
		return "", fmt.Errorf("%s: %q must be a clean absolute path under %s", key, p, AgentHome)
	}
	return p, nil
}

// reservedEnv names variables the plan sets for every agent.
func reservedEnv(k string) bool {
	switch strings.ToUpper(k) {
	case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "HOME", "PATH", "USER":
		return true
	}
	return slices.Contains(CAEnvVars(), k)
}
