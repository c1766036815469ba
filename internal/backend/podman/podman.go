// Package podman runs bottles on Podman, rootful or rootless, through
// Podman's API socket (`podman system service`). Podman's Docker-compatible
// API takes the same container and network requests as Docker's, so the
// bottle is built by the Docker backend's code over a moby client on
// Podman's socket; what Podman does differently is set here, each a
// documented difference (docs/runtimes.md) with a test:
//
//   - explicit ulimits (nofile 20000:20000): Podman as root otherwise
//     asks for an RLIMIT_NOFILE above the machine's hard limit and every
//     container fails with "error setting rlimit type 7";
//   - gVisor is never picked by default: Podman lists every runtime its
//     configuration names, installed or not;
//   - the engine must use the CNI network backend: netavark (Podman 4's
//     default, Podman 5's only one) gives an internal network's bridge a
//     host address and has no inhibit_ipv4, so a host listener on 0.0.0.0
//     would be reachable from the agent. CNI's bridge plugin on an
//     internal network sets isGateway false: the bridge holds no address.
//     Launch asks the engine which backend it runs and refuses any other
//     (Sealed);
//   - rootless Podman on cgroup v1 ignores resource limits: refused
//     (Limited);
//   - an agent under runsc is created by a second Podman service whose
//     default runtime is runsc (GVisor): Podman's APIs ignore a
//     container's runtime; without that service runsc is refused
//     (ErrNoGVisor).
package podman

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// EnvHost is Podman's own variable for its API socket (unix:///path).
const EnvHost = "CONTAINER_HOST"

// NoFile and NProc are the open-files and processes limits every
// container gets: Podman as root otherwise asks for limits above the
// machine's hard ones (crun: "setrlimit RLIMIT_NPROC: Operation not
// permitted", "error setting rlimit type 7").
const (
	NoFile = 20000
	NProc  = 4096
)

// Socket is where Podman's API listens for this user: $CONTAINER_HOST, else
// /run/podman/podman.sock for root, else $XDG_RUNTIME_DIR/podman/podman.sock
// (/run/user/UID when unset).
func Socket(getenv func(string) string, uid int) string {
	if h := getenv(EnvHost); h != "" {
		return h
	}
	if uid == 0 {
		return "unix:///run/podman/podman.sock"
	}
	dir := getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = "/run/user/" + strconv.Itoa(uid)
	}
	return "unix://" + filepath.Join(dir, "podman", "podman.sock")
}

// Present reports whether the socket exists (a unix socket) or an address
// is set.
func Present(getenv func(string) string, uid int) bool {
	if getenv(EnvHost) != "" {
		return true
	}
	_, err := os.Stat(Socket(getenv, uid)[len("unix://"):])
	return err == nil
}

// Connect opens a moby client on Podman's socket and checks that it
// answers.
func Connect(ctx context.Context, host string) (*client.Client, error) {
	c, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("connecting to podman at %s: %w", host, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to podman at %s (start it with `podman system service --time=0 %s`): %w", host, host, err)
	}
	return c, nil
}

// Options adapts Docker backend options to Podman.
func Options(o docker.Options) docker.Options {
	o.Name = "podman"
	o.Ulimits = []*container.Ulimit{
		{Name: "nofile", Soft: NoFile, Hard: NoFile},
		{Name: "nproc", Soft: NProc, Hard: NProc},
	}
	o.NoDefaultRunsc = true
	o.FilesBeforeStart = true
	return o
}

// Podman is the Podman backend: the Docker backend over Podman's socket,
// refusing to launch on an engine that would not seal the agent's
// network.
type Podman struct {
	*docker.Docker
	info    func(context.Context) (Info, error)
	runtime string
	eng     *engine
	// host is the service's unix socket when the client is on one (""
	// for another engine, e.g. a test's fake).
	host string
	// noGVisor is why a gVisor service found could not be used.
	noGVisor error
}

var _ backend.Backend = (*Podman)(nil)

// New is a backend on Podman's engine eng; info reads the engine's own
// description of itself (InfoFrom for a socket).
// An agent under runsc needs WithGVisor (Open finds the service).
func New(eng docker.Engine, info func(context.Context) (Info, error), o docker.Options) *Podman {
	e := &engine{Engine: eng}
	p := &Podman{Docker: docker.New(e, Options(o)), info: info, runtime: o.Runtime, eng: e}
	if c, ok := eng.(interface{ DaemonHost() string }); ok && strings.HasPrefix(c.DaemonHost(), "unix://") {
		p.host = c.DaemonHost()
	}
	return p
}

// Launch checks that the engine builds every wall (Check) and that the
// agent would get the runtime asked for, then launches.
func (p *Podman) Launch(ctx context.Context, b plan.Bottle, opts backend.LaunchOptions) (backend.Bottle, error) {
	info, err := p.info(ctx)
	if err != nil {
		return backend.Bottle{}, fmt.Errorf("launching on podman: %w", err)
	}
	if err := Check(info); err != nil {
		return backend.Bottle{}, fmt.Errorf("launching on podman: %w", err)
	}
	switch {
	case b.Runtime == "runsc" || p.runtime == "runsc":
		if err := p.gvisorReady(ctx, info); err != nil {
			return backend.Bottle{}, fmt.Errorf("launching on podman: %w", err)
		}
	case b.Runtime == "runc" && info.OCIRuntime == "runsc":
		return backend.Bottle{}, errors.New("launching on podman: the bottle forbids runsc (runtime: runc) and the podman service creates every container under runsc")
	}
	return p.Docker.Launch(ctx, b, opts)
}

// BuildCapabilities checks that the engine builds every wall (Check), as
// Launch does, before a build of approved lines: its containers stand on
// an internal network with a build sidecar like the agent's.
func (p *Podman) BuildCapabilities(ctx context.Context, cb backend.CapabilityBuild) (string, []backend.BuildFailure, error) {
	info, err := p.info(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("building capabilities on podman: %w", err)
	}
	if err := Check(info); err != nil {
		return "", nil, fmt.Errorf("building capabilities on podman: %w", err)
	}
	return p.Docker.BuildCapabilities(ctx, cb)
}
