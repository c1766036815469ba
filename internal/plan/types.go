// Package plan turns a resolved agent and its bottle(s) into a Bottle: plain
// data holding everything a backend needs to launch it. Make is pure: it
// does no I/O beyond what it is handed, so every decision is testable.
package plan

import "strconv"

import "github.com/bot-bottle/bot-bottle/internal/manifest"

// Sidecar ports and aliases (DESIGN.md, the sidecar contract).
const (
	EgressPort    = 9099
	SupervisePort = 9100
	GitGatePort   = 9420
	DNSPort       = 53

	EgressAlias    = "egress"
	SuperviseAlias = "supervise"
	GitGateAlias   = "git-gate"

	// DefaultGitGateURL is where the agent reaches git-gate on the Docker
	// backend; other backends pass their own to GitConfig.
	DefaultGitGateURL = "http://git-gate:9420"
	// DefaultProxyURL is the agent's HTTP(S)_PROXY on the Docker backend.
	DefaultProxyURL = "http://egress:9099"

	// SchemaVersion is Bottle.Schema.
	SchemaVersion = 1

	// DefaultHoldTimeoutSeconds bounds a held push or request.
	DefaultHoldTimeoutSeconds = 300
)

// Daemon names for BOT_BOTTLE_SIDECAR_DAEMONS, in start order.
const (
	DaemonEgress    = "egress"
	DaemonSupervise = "supervise"
	DaemonDNS       = "dns"
	DaemonGitGate   = "git-gate"
)

// Paths inside the sidecar container; each is a directory bind-mounted from
// the bottle's host state.
const (
	SidecarRoot       = "/run/bot-bottle"
	SidecarConfigDir  = SidecarRoot + "/config" // sidecar.json
	SidecarEgressDir  = SidecarRoot + "/egress" // policy.yaml
	SidecarCADir      = SidecarRoot + "/ca"     // ca.pem, ca-key.pem
	SidecarSSHDir     = SidecarRoot + "/ssh"    // per-repo keys, known_hosts
	SidecarQueueDir   = SidecarRoot + "/queue"  // supervise proposals
	SidecarLogsDir    = SidecarRoot + "/logs"   // JSON Lines logs
	SidecarConfigFile = SidecarConfigDir + "/sidecar.json"
	SidecarPolicyFile = SidecarEgressDir + "/policy.yaml"

	// AgentConfigDir is where the agent sees the bottle's current config
	// (read-only).
	AgentConfigDir = "/etc/bot-bottle/current-config"
	// AgentCADir holds only ca.pem (never the CA key) for the agent.
	AgentCADir = "/etc/bot-bottle/ca"
)

// Bottle is the complete plan for one bottle. Secret values never appear in
// it: tokens are slots, the names of the host env vars that hold them.
type Bottle struct {
	// Schema is the version of this JSON shape; it changes only when a
	// field is removed or changes meaning (docs/plan-json.md).
	Schema int `json:"schema"`
	// Slug names the bottle's containers, networks and state: the agent's
	// name, a dash, five random lower-case letters or digits.
	Slug string `json:"slug"`
	// Label is a one-line human description ("shell in default").
	Label string `json:"label"`
	// Runtime is the bottle's runtime key: "runsc" requires gVisor for
	// the agent, "runc" forbids it, "" takes gVisor when the engine has it.
	Runtime string `json:"runtime,omitempty"`
	// Resources are the agent container's limits, defaults filled in.
	Resources Resources `json:"resources"`
	// Color is the bottle's colour name for people (start --color), ""
	// when none.
	Color string `json:"color,omitempty"`
	// Agent is who runs in the bottle.
	Agent Agent `json:"agent"`
	// Bottles are the bottle names merged for this plan, in order, each
	// after its own extends chain.
	Bottles []string `json:"bottles"`
	// Files are the manifest files that went into the plan, in fold order.
	Files []string `json:"files"`
	// Provider is the agent image's provider template and settings.
	Provider Provider `json:"provider"`
	// Images are the images to run.
	Images Images `json:"images"`
	// AgentEnv is the agent container's environment (no secrets).
	AgentEnv map[string]string `json:"agent_env"`
	// SidecarEnv is the sidecar's environment without secrets.
	SidecarEnv map[string]string `json:"sidecar_env"`
	// SidecarSecretEnv are the host env var names whose values the backend
	// copies into the sidecar's environment at launch (token_ref and
	// auth_token slots), sorted. Values are read only at launch.
	SidecarSecretEnv []string `json:"sidecar_secret_env"`
	// MissingSecretEnv are the slots of SidecarSecretEnv not set on the
	// host; only a dry run plans with any (launch refuses).
	MissingSecretEnv []string `json:"missing_secret_env,omitempty"`
	// Missing says why each of MissingSecretEnv is needed (dry run only).
	Missing manifest.Problems `json:"-"`
	// Mounts are the bind mounts of both containers.
	Mounts []Mount `json:"mounts"`
	// Egress is the bottle's egress policy as written to policy.yaml.
	Egress Egress `json:"egress"`
	// GitGate is the upstreams the gate serves and the commit identity.
	GitGate GitGate `json:"git_gate"`
	// GitConfig is the agent's git configuration: identity and one
	// url.<gate>.insteadOf per spelling of each upstream, in order.
	GitConfig []GitConfigEntry `json:"git_config"`
	// Supervise are the supervision settings.
	Supervise Supervise `json:"supervise"`
	// Sidecar is what is written to state/<slug>/sidecar/sidecar.json.
	Sidecar SidecarConfig `json:"sidecar"`
	// Capabilities is what a build of the approved capability-block lines
	// may reach.
	Capabilities Capabilities `json:"capabilities"`
	// StateDir is the bottle's host state directory,
	// ~/.bot-bottle/state/<slug>.
	StateDir string `json:"state_dir"`
}

// Agent is the agent part of the plan.
type Agent struct {
	// Name is the agent's manifest name.
	Name string `json:"name"`
	// File is the agent manifest; "" for the built-in agent.
	File string `json:"file"`
	// Prompt is the agent's system prompt (the manifest body).
	Prompt string `json:"prompt"`
	// Skills are skill names copied into the agent.
	Skills []string `json:"skills"`
}

// Provider says how the agent image is built and provisioned.
type Provider struct {
	// Template is claude, codex, pi, shell or a plugin name.
	Template string `json:"template"`
	// Dockerfile replaces the template's Dockerfile (absolute host path);
	// "" uses the template's own.
	Dockerfile string `json:"dockerfile,omitempty"`
	// AuthTokenEnv is the host env var holding the provider's API token,
	// injected by the sidecar; "" when none.
	AuthTokenEnv string `json:"auth_token_env,omitempty"`
	// AuthKind is agent_provider.auth_kind (api_key or oauth); empty: told
	// from the value's shape at start.
	AuthKind string `json:"auth_kind,omitempty"`
	// ForwardHostCredentials forwards the host's own login.
	ForwardHostCredentials bool `json:"forward_host_credentials"`
	// Settings are provider-specific settings.
	Settings map[string]any `json:"settings,omitempty"`
}

// Images names the container images.
type Images struct {
	// Agent is the agent image tag.
	Agent string `json:"agent"`
	// Sidecar is the sidecar image tag.
	Sidecar string `json:"sidecar"`
}

// Mount is one bind mount.
type Mount struct {
	// Container is "agent" or "sidecar".
	Container string `json:"container"`
	// Source is the host directory.
	Source string `json:"source"`
	// Target is the path in the container.
	Target string `json:"target"`
	// ReadOnly mounts it read-only.
	ReadOnly bool `json:"read_only"`
}

// Egress is the bottle's policy: the routes (token slots only) and log level.
type Egress struct {
	// Routes in match order. auth.token_ref is an env var name.
	Routes []manifest.Route `json:"routes"`
	// Log is 0, 1 or 2.
	Log int `json:"log"`
}

// GitGate is the gate's part of the plan.
type GitGate struct {
	// User is the commit identity, after agent overrides.
	User manifest.GitUser `json:"user"`
	// Repos, sorted by name.
	Repos []Repo `json:"repos"`
}

// Repo is one upstream the gate serves.
type Repo struct {
	// Name is the repo's name: the agent reaches it at <gate>/NAME.git.
	Name string `json:"name"`
	// URL is the SSH upstream.
	URL string `json:"url"`
	// HostKey is the pinned host key as the manifest gives it.
	HostKey string `json:"host_key"`
	// KnownHostsName is how known_hosts names the upstream (host or
	// [host]:port).
	KnownHostsName string `json:"known_hosts_name"`
	// KeyFile is the private key on the host, copied by the backend into
	// state/<slug>/ssh/<name>.key (0600).
	KeyFile string `json:"key_file"`
	// SidecarKeyFile is where the sidecar finds the key.
	SidecarKeyFile string `json:"sidecar_key_file"`
	// AllowForcePush lets force pushes and deletions through.
	AllowForcePush bool `json:"allow_force_push"`
}

// GitConfigEntry is one `git config --add KEY VALUE`. A key may repeat
// (insteadOf has one entry per URL spelling).
type GitConfigEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Supervise are the supervision settings.
type Supervise struct {
	// QueueDir is the bottle's queue on the host.
	QueueDir string `json:"queue_dir"`
	// Port is the supervise MCP port in the sidecar.
	Port int `json:"port"`
	// GitleaksAllowTimeoutSeconds bounds a push held for # gitleaks:allow.
	GitleaksAllowTimeoutSeconds int `json:"gitleaks_allow_timeout_seconds"`
	// EgressTokenAllowTimeoutSeconds bounds a request held by DLP.
	EgressTokenAllowTimeoutSeconds int `json:"egress_token_allow_timeout_seconds"`
}

// SidecarConfig is the sidecar's part of the plan, written as JSON to
// state/<slug>/sidecar/sidecar.json and read at /run/bot-bottle/config/.
type SidecarConfig struct {
	// Slug is the bottle's slug.
	Slug string `json:"slug"`
	// Daemons to run, in order: egress, supervise, dns, then git-gate when
	// there are repos.
	Daemons []string `json:"daemons"`
	// LogLevel is the egress log level (0, 1, 2).
	LogLevel int `json:"log_level"`
	// Routes are the manifest's routes (token slots only). The live policy
	// is policy.yaml; these are the starting point.
	Routes []manifest.Route `json:"routes"`
	// Repos are the gate's upstreams with key paths inside the sidecar.
	Repos []SidecarRepo `json:"repos"`
	// Aliases are the names the sidecar answers on the bottle network.
	Aliases []string `json:"aliases"`
	// Ports of each daemon.
	Ports Ports `json:"ports"`
}

// SidecarRepo is one upstream as the sidecar sees it.
type SidecarRepo struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// HostKey is the pinned host key as the manifest gives it.
	HostKey string `json:"host_key"`
	// KeyFile is the private key's path inside the sidecar.
	KeyFile        string `json:"key_file"`
	AllowForcePush bool   `json:"allow_force_push"`
}

// Ports are the sidecar's listening ports.
type Ports struct {
	Egress    int `json:"egress"`
	Supervise int `json:"supervise"`
	GitGate   int `json:"git_gate"`
	DNS       int `json:"dns"`
}

// SuperviseURL is where an agent on the Docker backend reaches the supervise
// MCP server: the root path of its port (DESIGN.md, the sidecar contract).
func SuperviseURL() string {
	return "http://" + SuperviseAlias + ":" + strconv.Itoa(SupervisePort) + "/"
}

// Default limits of the agent container (a bottle's resources key changes
// them).
const (
	DefaultMemoryBytes = 4 << 30
	DefaultPids        = 1024
)

// Resources are the agent container's limits.
type Resources struct {
	// MemoryBytes is the most memory the agent may use.
	MemoryBytes int64 `json:"memory_bytes"`
	// CPUs is how many CPUs' worth of time it may use; 0 is no limit.
	CPUs float64 `json:"cpus,omitempty"`
	// Pids is the most processes and threads at once.
	Pids int64 `json:"pids"`
}
