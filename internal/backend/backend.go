// Package backend is the seam between a bottle's plan and the machinery
// that runs it: a Backend launches the sidecar and the agent for a
// plan.Bottle and manages them by slug afterwards. The Docker backend is the
// first; the interface is small so VM or other engines can follow.
package backend

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// Label keys on everything a backend creates, so list, cleanup and resume
// find a bottle's parts without bookkeeping of their own.
const (
	LabelSlug    = "bot-bottle.slug"
	LabelRole    = "bot-bottle.role" // "agent", "sidecar", "internal", "egress"
	LabelAgent   = "bot-bottle.agent"
	LabelLabel   = "bot-bottle.label"
	LabelCreated = "bot-bottle.created" // RFC 3339
	// LabelStateDir is the bottle's state directory on the host: cleanup
	// takes only bottles whose state lives under its user's state root,
	// never another user's on a shared engine.
	LabelStateDir = "bot-bottle.state-dir"
	// LabelRuntime is the OCI runtime the agent runs under ("runsc",
	// "runc", ...), as the backend chose it at launch.
	LabelRuntime = "bot-bottle.runtime"
)

// Roles of a bottle's parts.
const (
	RoleAgent    = "agent"
	RoleSidecar  = "sidecar"
	RoleInternal = "internal"
	RoleEgress   = "egress"
)

// ErrNotFound is returned for a slug the backend has no bottle for.
var ErrNotFound = errors.New("no such bottle")

// StepError is a failed launch step: Launch's error names the step.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Endpoints is where the agent reaches the sidecar. Only the backend knows:
// Docker uses network aliases, other backends an IP or a published port.
type Endpoints struct {
	// ProxyURL is the agent's HTTP(S)_PROXY, e.g. http://egress:9099.
	ProxyURL string
	// SuperviseURL is the supervise MCP server, e.g. http://supervise:9100/ (MCP answers at the root path).
	SuperviseURL string
	// GitGateURL is the base of the gate's repos, e.g. http://git-gate:9420.
	GitGateURL string
	// DNS is the sidecar's resolver as IP:port.
	DNS string
	// NoProxy is the agent's NO_PROXY.
	NoProxy string
}

// Bottle is a launched bottle.
type Bottle struct {
	Slug      string
	Endpoints Endpoints
	// AgentImage is the image the agent runs.
	AgentImage string
	// SidecarImage is the image the sidecar runs.
	SidecarImage string
	// AgentUID and AgentGID own what is copied into the agent.
	AgentUID, AgentGID int
	// ProbePath is where LaunchOptions.ProbeBinary is in the agent,
	// read-only ("": the backend did not mount it; attestation copies it).
	ProbePath string
}

// LaunchOptions are the parts of a launch that are not in the plan.
type LaunchOptions struct {
	// Progress receives one line per step and image build output (nil:
	// discarded).
	Progress io.Writer
	// Getenv reads the host environment for the plan's SidecarSecretEnv.
	Getenv func(string) string
	// UID and GID run the sidecar (and the agent when non-zero) so files
	// written into the bottle's state stay the user's.
	UID, GID int
	// AgentImage runs this image instead of building the template's (a
	// committed image on resume).
	AgentImage string
	// AgentDockerfile and AgentContext build the agent image of a plugin
	// provider (host paths); empty: the plan's template or Dockerfile.
	AgentDockerfile string
	AgentContext    string
	// ProbeBinary is the host's static bot-bottle for attestation: a
	// backend that can mounts it read-only into the agent and says where
	// (Bottle.ProbePath), so no start copies it in ("": none).
	ProbeBinary string
	// AgentRunning is called once the agent's container runs, possibly
	// before the sidecar is ready, so the agent's own walls can be probed
	// while the sidecar starts (nil: none; a backend that starts the agent
	// only after the sidecar need not call it).
	AgentRunning func(Bottle)
	// Timer times the launch's steps (start --timings): it is called as a
	// step begins and returns what ends it. Steps may overlap (nil: none).
	Timer func(step string) (end func())
}

// TermSize is a terminal's size in cells.
type TermSize struct {
	Rows, Cols uint
}

// ExecSpec is one command run in the agent container.
type ExecSpec struct {
	Cmd     []string
	Env     []string // KEY=VALUE added to the container's
	User    string   // "" for the image's user
	WorkDir string
	// TTY allocates a terminal: Stdout receives everything and Resize
	// carries size changes.
	TTY    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Resize <-chan TermSize
}

// Summary is one bottle as List sees it.
type Summary struct {
	Slug     string    `json:"slug"`
	Agent    string    `json:"agent"`
	Label    string    `json:"label"`
	State    string    `json:"state"` // the agent container's: running, exited, created, missing
	Sidecar  string    `json:"sidecar_state"`
	Image    string    `json:"image"`
	Created  time.Time `json:"created"`
	StateDir string    `json:"state_dir"`
	// Backend is the Name of the backend that runs the bottle.
	Backend string `json:"backend"`
	// Runtime is the agent's OCI runtime ("runsc" for gVisor, "runc");
	// "" when the backend does not know.
	Runtime string `json:"runtime,omitempty"`
}

// Targets is what the host knows about the places the agent of a bottle
// must not reach: attestation probes each of them from inside.
type Targets struct {
	// HostAddrs are the host's addresses as the engine sees them.
	HostAddrs []netip.Addr
	// Gateways are the gateways of the agent's networks.
	Gateways []netip.Addr
	// Proxy is the agent's proxy URL ("" skips the proxy probes).
	Proxy string
	// AgentAddrs are the agent's own addresses: the host listener counts
	// connections from these (none: from anyone).
	AgentAddrs []netip.Addr
	// ExtraTCP are more host:port targets that must stay closed (a test's
	// own listeners).
	ExtraTCP []string
	// FixHints are this engine's own steps for a kind of leak, by
	// attestation category ("host", "route", "resolver"): attestation's
	// fix text names no engine.
	FixHints map[string]string
}

// CapabilityBuild is one build of a bottle's approved capability-block
// lines onto Base. Each line runs with its network only through a build
// sidecar: the proxy (Bottle.CapabilityPolicy, DLP on) and the refusing
// resolver, with the state the caller wrote for it (Bottle.CapabilityMounts).
type CapabilityBuild struct {
	Bottle   plan.Bottle
	Base     string
	Approved []byte
	// Launch gives Getenv (the sidecar's secrets), UID and GID (the
	// sidecar's user) and Progress.
	Launch LaunchOptions
}

// BuildFailure is one approved capability instruction that did not build:
// the others were built without it.
type BuildFailure struct {
	// Lines are the instruction as approved (comments before it included).
	Lines string
	// Log is the tail of its build output.
	Log string
	Err error
}

// BaseImages is a backend whose images are built FROM base images that
// must already be on the engine (seeded offline, there is no registry). It
// names the missing ones before a start needs them, so a first start can
// seed them while its other slow work (building the static sidecar binary)
// runs beside it.
type BaseImages interface {
	MissingBases(ctx context.Context) ([]string, error)
}

// ImageRemover is a backend that can remove the images it made for one
// bottle: capability builds, and with committed its commits (rm; cleanup
// keeps commits). It returns the references it removed.
type ImageRemover interface {
	RemoveImages(ctx context.Context, slug string, committed bool) ([]string, error)
}

// Backend runs bottles.
type Backend interface {
	// Name is the backend's name as recorded in metadata.json ("docker").
	Name() string
	// Launch starts the sidecar, waits for it to be ready, then starts the
	// agent container idle, ready for Exec. On failure everything it made
	// is removed and the error names the step that failed.
	Launch(ctx context.Context, b plan.Bottle, opts LaunchOptions) (Bottle, error)
	// Exec runs a command in the agent container and returns its exit code.
	Exec(ctx context.Context, slug string, spec ExecSpec) (int, error)
	// CopyInto unpacks a tar stream into dir in the agent container.
	CopyInto(ctx context.Context, slug, dir string, tarball io.Reader) error
	// Stop stops the bottle's containers, keeping them for commit.
	Stop(ctx context.Context, slug string) error
	// Remove removes the bottle's containers and networks (never its host
	// state). Removing what is already gone is not an error.
	Remove(ctx context.Context, slug string) error
	// List reports every bottle the backend knows.
	List(ctx context.Context) ([]Summary, error)
	// Commit snapshots the agent container as image (a generated name when
	// ""), and returns the image reference.
	Commit(ctx context.Context, slug, image string) (string, error)
	// Targets finds what the running agent of slug must not reach (the
	// host's addresses, its networks' gateways) and where its proxy is,
	// for attestation. Only the backend knows how its networks are built.
	Targets(ctx context.Context, slug string) (Targets, error)
}
