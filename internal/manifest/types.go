package manifest

//go:generate go run ./docgen -types types.go -o ../../docs/manifest.md

// This file holds the wire types: they mirror the YAML frontmatter of a
// manifest key for key. Their doc comments are the manifest reference
// (docs/manifest.md is written from them). Validation and merging turn them
// into resolved values; nothing here is trusted until it has been validated.

// BottleFile is the frontmatter of a bottle manifest,
// ~/.bot-bottle/bottles/<name>.md. The Markdown body is documentation.
type BottleFile struct {
	// Extends names the parent bottle(s): one name or a list. Parents fold
	// left to right and the child wins.
	Extends StringList `yaml:"extends,omitempty" json:"extends,omitempty"`
	// Env is set in the agent container. Dict-merged along extends. Values
	// are strings (quote numbers); the proxy and CA variables bot-bottle
	// sets cannot be overridden.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// AgentProvider picks and configures the agent's image.
	AgentProvider *AgentProvider `yaml:"agent_provider,omitempty" json:"agent_provider,omitempty"`
	// GitGate declares the upstream repositories the agent may fetch from and
	// push to through the sidecar's git-gate.
	GitGate *GitGate `yaml:"git-gate,omitempty" json:"git-gate,omitempty"`
	// Egress declares where the agent may connect.
	Egress *Egress `yaml:"egress,omitempty" json:"egress,omitempty"`
	// Runtime is the agent's OCI runtime: runsc requires gVisor (start
	// refuses when the engine has none), runc forbids it. Unset: gVisor
	// when the engine has it. The last bottle along extends that sets it
	// wins.
	Runtime string `yaml:"runtime,omitempty" json:"runtime,omitempty"`
	// Resources limit the agent container. A key left unset keeps its
	// default (memory 4g, pids 1024, cpus unlimited); per key, the last
	// bottle along extends that sets it wins.
	Resources *Resources `yaml:"resources,omitempty" json:"resources,omitempty"`
	// Capabilities say what an approved capability-block build may reach.
	Capabilities *Capabilities `yaml:"capabilities,omitempty" json:"capabilities,omitempty"`
}

// Capabilities configure the builds of approved capability-block lines
// (applied at the next start). Each line runs with its network only
// through an egress proxy of its own, with DLP on, whose policy is the
// bottle's egress routes plus these; its DNS is the sidecar's refusing
// resolver.
type Capabilities struct {
	// Routes are what a build may reach besides the bottle's egress
	// routes, in the egress route syntax (auth is not allowed: the lines
	// are the agent's). Concatenated along extends. Default, when no
	// bottle along extends has a capabilities key: Debian's mirrors,
	// deb.debian.org and security.debian.org (ports 80 and 443).
	// `routes: []` allows nothing more than the bottle's routes.
	Routes []Route `yaml:"routes,omitempty" json:"routes,omitempty"`
}

// Resources are the agent container's limits.
type Resources struct {
	// Memory is the most memory the agent may use: a whole number with k,
	// m or g (powers of 1024) such as 512m or 8g; at least 64m.
	Memory string `yaml:"memory,omitempty" json:"memory,omitempty"`
	// CPUs is how many CPUs' worth of time the agent may use, such as 2 or
	// 0.5 (unset: no limit).
	CPUs float64 `yaml:"cpus,omitempty" json:"cpus,omitempty"`
	// Pids is the most processes and threads the agent may run at once; at
	// least 16.
	Pids int `yaml:"pids,omitempty" json:"pids,omitempty"`
}

// AgentFile is the frontmatter of an agent manifest, in
// ~/.bot-bottle/agents/ or ./.bot-bottle/agents/. The Markdown body is the
// agent's system prompt.
type AgentFile struct {
	// Bottle is the bottle the agent runs in. When empty: the bottles given
	// with --bottle, else the bottle named "default". --bottle overrides it.
	Bottle string `yaml:"bottle,omitempty" json:"bottle,omitempty"`
	// Skills are copied from the host into the agent's skills folder.
	Skills []string `yaml:"skills,omitempty" json:"skills,omitempty"`
	// GitGate may set the commit identity; only git-gate.user is allowed here.
	GitGate *AgentGitGate `yaml:"git-gate,omitempty" json:"git-gate,omitempty"`

	// Name is a Claude Code subagent key: accepted and ignored, so a
	// subagent file loads as is. The agent's name is its file name.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Description is a Claude Code subagent key: accepted and ignored.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Model is a Claude Code subagent key: accepted and ignored.
	Model string `yaml:"model,omitempty" json:"model,omitempty"`
	// Color is a Claude Code subagent key: accepted and ignored.
	Color string `yaml:"color,omitempty" json:"color,omitempty"`
	// Memory is a Claude Code subagent key: accepted and ignored.
	Memory any `yaml:"memory,omitempty" json:"memory,omitempty"`
	// Tools is a Claude Code subagent key: accepted and ignored.
	Tools any `yaml:"tools,omitempty" json:"tools,omitempty"`
}

// AgentProvider selects the agent image and how it is provisioned.
type AgentProvider struct {
	// Template is the built-in provider: claude, codex, pi or shell, or the
	// name of a plugin in ~/.bot-bottle/contrib/. Default: shell.
	Template string `yaml:"template,omitempty" json:"template,omitempty"`
	// Dockerfile replaces the template's Dockerfile (a path relative to the
	// bottle file).
	Dockerfile string `yaml:"dockerfile,omitempty" json:"dockerfile,omitempty"`
	// AuthToken names the host env var that holds the provider's API token.
	// The sidecar injects it; the agent sees a placeholder.
	AuthToken string `yaml:"auth_token,omitempty" json:"auth_token,omitempty"`
	// AuthKind says which kind of credential auth_token holds, where the
	// provider takes two: api_key (claude and pi: sent as x-api-key) or
	// oauth (a token from `claude setup-token`: sent as Authorization:
	// Bearer). Default: told from the value's shape (sk-ant-oat… is
	// oauth, anything else api_key); set it when the shape says wrong.
	AuthKind string `yaml:"auth_kind,omitempty" json:"auth_kind,omitempty"`
	// ForwardHostCredentials lets the provider forward the host's own login
	// (codex) through the sidecar instead of a token.
	ForwardHostCredentials bool `yaml:"forward_host_credentials,omitempty" json:"forward_host_credentials,omitempty"`
	// Settings are provider-specific settings written into the agent's
	// configuration.
	Settings map[string]any `yaml:"settings,omitempty" json:"settings,omitempty"`
}

// GitGate is the bottle's git-gate block.
type GitGate struct {
	// User is the commit identity configured in the agent.
	User *GitUser `yaml:"user,omitempty" json:"user,omitempty"`
	// Repos are the upstreams, by name. The agent reaches NAME at
	// http://git-gate:9420/NAME.git.
	Repos map[string]Repo `yaml:"repos,omitempty" json:"repos,omitempty"`
}

// AgentGitGate is the part of git-gate an agent may set.
type AgentGitGate struct {
	// User is the commit identity configured in the agent.
	User *GitUser `yaml:"user,omitempty" json:"user,omitempty"`
}

// GitUser is a commit identity.
type GitUser struct {
	// Name is git's user.name.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Email is git's user.email.
	Email string `yaml:"email,omitempty" json:"email,omitempty"`
}

// Repo is one upstream repository.
type Repo struct {
	// URL is the SSH upstream: ssh://git@host[:port]/path.git or the scp
	// form git@host:path.git.
	URL string `yaml:"url" json:"url"`
	// HostKey pins the upstream's public host key: a known_hosts line or a
	// bare "TYPE BASE64" key.
	HostKey string `yaml:"host_key" json:"host_key"`
	// Key is the SSH private key the sidecar pushes and fetches with.
	Key RepoKey `yaml:"key" json:"key"`
	// AllowForcePush lets force pushes and ref deletions through. Off by
	// default: they can lose work upstream.
	AllowForcePush bool `yaml:"allow_force_push,omitempty" json:"allow_force_push,omitempty"`
}

// RepoKey says where the repo's SSH key comes from.
type RepoKey struct {
	// Provider is where the key comes from; only "static" exists.
	Provider string `yaml:"provider" json:"provider"`
	// Path is the private key file on the host.
	Path string `yaml:"path" json:"path"`
}

// Egress is the bottle's egress block.
type Egress struct {
	// Routes are the hosts and requests the agent may reach. Concatenated
	// along extends. Everything else is refused.
	Routes []Route `yaml:"routes,omitempty" json:"routes,omitempty"`
	// Log is the egress log level: 0 refusals and every use of an
	// approval's grant, 1 every decision (the default), 2 every decision
	// with request headers (never a token).
	// Last wins along extends.
	Log *int `yaml:"log,omitempty" json:"log,omitempty"`
}

// Route allows requests to one host.
type Route struct {
	// Host is the exact lower-case host name (or IP literal) the route
	// allows, or `*.suffix`: any name of one or more labels under suffix
	// (`*.example.test` matches `a.example.test` and `a.b.example.test`,
	// not `example.test`). A wildcard route may not carry auth.
	Host string `yaml:"host" json:"host"`
	// Ports the route allows (1-65535). Default: 443 for https and 80 for
	// plain http. Listing ports replaces the default: `ports: [8443]`
	// allows 8443 and nothing else.
	Ports []int `yaml:"ports,omitempty" json:"ports,omitempty"`
	// Auth injects a token the agent never sees.
	Auth *Auth `yaml:"auth,omitempty" json:"auth,omitempty"`
	// Matches narrows the route: a request must match at least one entry
	// when any are given. No matches allows every request to the host.
	Matches []Match `yaml:"matches,omitempty" json:"matches,omitempty"`
	// DLP configures scanning for this route.
	DLP *DLP `yaml:"dlp,omitempty" json:"dlp,omitempty"`
	// Git allows git smart-HTTP operations on this host.
	Git *GitAccess `yaml:"git,omitempty" json:"git,omitempty"`
	// UnsafeAllowPrivate lets the host resolve to a private or loopback
	// address: a self-hosted service on the local network.
	UnsafeAllowPrivate bool `yaml:"unsafe_allow_private,omitempty" json:"unsafe_allow_private,omitempty"`
	// WebSocket lets requests of this route upgrade to WebSocket. The
	// upgrade request goes through the route like any other; then every
	// message is scanned by the route's detectors (outbound ones on what
	// the agent sends, the injection detector on text it receives).
	WebSocket bool `yaml:"websocket,omitempty" json:"websocket,omitempty"`
	// WebSocketMaxMessage is the largest WebSocket message (in bytes,
	// after decompression) either side may send; a larger one closes the
	// connection with 1009. Default 16 MiB; at most 256 MiB.
	WebSocketMaxMessage int `yaml:"websocket_max_message,omitempty" json:"websocket_max_message,omitempty"`
	// Role is reserved: any value is rejected. A route's access is set by
	// matches and auth, not by a role.
	Role string `yaml:"role,omitempty" json:"role,omitempty"`
	// Grant limits a route the operator approved (`supervise approve
	// --ttl/--uses/--session`): written by bot-bottle into approved.yaml and
	// the live policy, refused in an agent's proposal.
	Grant *Grant `yaml:"grant,omitempty" json:"grant,omitempty"`
}

// Grant is the limit on an approved route: it stops allowing requests at
// Expires or after Uses requests, and a Session grant is not carried into
// the next run.
type Grant struct {
	// ID names the grant in refusals and the audit log.
	ID string `yaml:"id" json:"id"`
	// Expires is an RFC 3339 time; "" means no expiry.
	Expires string `yaml:"expires,omitempty" json:"expires,omitempty"`
	// Uses is how many requests the grant allows; 0 means no limit.
	Uses int `yaml:"uses,omitempty" json:"uses,omitempty"`
	// Used is how many of Uses earlier runs spent (resume honours what is
	// left).
	Used int `yaml:"used,omitempty" json:"used,omitempty"`
	// Session: the grant lasts for this run only.
	Session bool `yaml:"session,omitempty" json:"session,omitempty"`
}

// Auth is a token injected into requests of a route. At most one of
// scheme, header, basic_user and query says where the value goes (scheme
// Bearer when none is given and no placeholder is). Whatever the agent
// sent as a credential (any credential-named header in any spelling,
// cookies, credential-named query parameters) is removed first; tokens
// never go over plain http.
type Auth struct {
	// Scheme is the Authorization scheme: Bearer or token
	// (`Authorization: <scheme> <value>`).
	Scheme string `yaml:"scheme,omitempty" json:"scheme,omitempty"`
	// TokenRef names the env var that holds the token. Only the name is
	// read at load; the value reaches only the sidecar.
	TokenRef string `yaml:"token_ref" json:"token_ref,omitempty"`
	// Header sends the value in a header of its own: `NAME: <value>`
	// (x-api-key, X-Goog-Api-Key, Private-Token, api-key).
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// BasicUser sends HTTP Basic: `Authorization: Basic
	// base64(USER:<value>)` (git over HTTPS, package registries).
	BasicUser string `yaml:"basic_user,omitempty" json:"basic_user,omitempty"`
	// Query sends the value as the query parameter PARAM (`?PARAM=<value>`),
	// replacing any value the agent sent.
	Query string `yaml:"query,omitempty" json:"query,omitempty"`
	// Placeholder is an env var NAME the agent gets, holding a per-bottle
	// sentinel (never the real value) for tools that refuse to run
	// without a token. The proxy swaps the sentinel for the real value in
	// the request line and headers, only on requests this route allows;
	// a sentinel headed anywhere else is refused. May be used with one of
	// the placements above, or alone.
	Placeholder string `yaml:"placeholder,omitempty" json:"placeholder,omitempty"`
	// PlaceholderInBody swaps the sentinel in request bodies too (needs
	// placeholder).
	PlaceholderInBody bool `yaml:"placeholder_in_body,omitempty" json:"placeholder_in_body,omitempty"`
}

// Match is one way a request may match a route.
type Match struct {
	// Paths: the request path must match one of them.
	Paths []PathMatch `yaml:"paths,omitempty" json:"paths,omitempty"`
	// Methods: the request method must be one of them, and so must any
	// method the request asks the upstream to run instead
	// (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`,
	// `?_method=`, a `_method` field in a form, multipart or JSON body).
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
	// Headers: every header listed must be present and match: every value
	// of it (a repeated header, its `_` spelling), and not named in
	// `Connection` (which would drop it before the upstream).
	Headers []HeaderMatch `yaml:"headers,omitempty" json:"headers,omitempty"`
}

// PathMatch matches the request path.
type PathMatch struct {
	// Type is prefix (the default), exact or regex.
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Value is the prefix, the path, or the regular expression (RE2,
	// anchored), compared with the percent-decoded path. A prefix is a
	// string prefix: write `/v1/`, not `/v1` (which also matches
	// `/v1-admin`).
	Value string `yaml:"value" json:"value,omitempty"`
}

// HeaderMatch matches one request header.
type HeaderMatch struct {
	// Name is the header name (case-insensitive).
	Name string `yaml:"name" json:"name,omitempty"`
	// Value is the exact value or the regular expression (RE2, anchored).
	Value string `yaml:"value" json:"value,omitempty"`
	// Type is exact (the default) or regex.
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
}

// DLP configures a route's data-loss scanning.
type DLP struct {
	// OutboundDetectors scan what the agent sends: false, or a list of
	// token_patterns, known_secrets, financial, entropy. Default:
	// token_patterns, known_secrets and financial.
	OutboundDetectors *Detectors `yaml:"outbound_detectors,omitempty" json:"outbound_detectors,omitempty"`
	// InboundDetectors scan what comes back: false, or a list of
	// naive_injection_detection. Default: naive_injection_detection.
	InboundDetectors *Detectors `yaml:"inbound_detectors,omitempty" json:"inbound_detectors,omitempty"`
	// OutboundOnMatch is what happens when an outbound detector matches:
	// supervise (hold the request for a human; the default), redact or block.
	OutboundOnMatch string `yaml:"outbound_on_match,omitempty" json:"outbound_on_match,omitempty"`
}

// Detectors is either false (scanning off) or a list of detector names.
type Detectors struct {
	// Off is true when the manifest says false.
	Off bool
	// Names are the detectors listed.
	Names []string
}

// GitAccess allows git over HTTPS on a route.
type GitAccess struct {
	// Fetch allows git-upload-pack (clone and fetch). Pushes over HTTPS are
	// always refused: they go through git-gate.
	Fetch bool `yaml:"fetch,omitempty" json:"fetch,omitempty"`
}

// StringList is a YAML scalar or a sequence of scalars.
type StringList []string
