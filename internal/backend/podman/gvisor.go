package podman

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
)

// EnvGVisorHost names the gVisor service's socket (unix:///path); unset,
// it is podman-runsc.sock beside the backend's own socket.
const EnvGVisorHost = "BOT_BOTTLE_PODMAN_RUNSC_HOST"

// GVisorSocket is where the gVisor service for the Podman service at host
// listens: $BOT_BOTTLE_PODMAN_RUNSC_HOST, else podman-runsc.sock in the
// directory of host's socket ("" when host is not a unix socket).
func GVisorSocket(getenv func(string) string, host string) string {
	if h := getenv(EnvGVisorHost); h != "" {
		return h
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return ""
	}
	return "unix://" + filepath.Join(filepath.Dir(path), "podman-runsc.sock")
}

// GVisor is the Podman service that creates the agent under runsc.
// Podman 4.3 applies no runtime asked for per container through its API:
// the Docker-compatible create ignores HostConfig.Runtime and libpod's own
// create ignores the spec's oci_runtime (TestPodmanIgnoresTheRuntime); a
// service gives every container it creates its own default runtime. So
// the agent is created by a second service on the same store and
// configuration whose default runtime is runsc (`podman --runtime runsc
// system service`), and everything else, the agent's start, execs and
// copies included, goes through the backend's own service, which runs
// the container under the runtime recorded with it, by name (runsc in
// containers.conf's [engine.runtimes]). The runtime Podman recorded is
// checked after the create: a container under any other is removed and
// the launch refused.
type GVisor struct {
	// Engine is the gVisor service's Docker-compatible API.
	Engine docker.Engine
	// Info is the gVisor service's description of itself (InfoFrom).
	Info func(context.Context) (Info, error)
	// Runtime reads a container's OCI runtime as the backend's own
	// service records it (nil: RuntimeFrom the backend's socket).
	Runtime func(ctx context.Context, id string) (string, error)
}

// ErrNoGVisor is the refusal of an agent under runsc when the backend has
// no gVisor service to create it.
var ErrNoGVisor = errors.New("the podman backend has no gVisor service: podman applies no runtime asked for per container through its API (the agent would run under the service's default, runc), so an agent under runsc is created by a second service whose default is runsc, on the same store: `podman --runtime runsc system service --time=0 unix:///run/podman/podman-runsc.sock` (docs/runtimes.md)")

// WithGVisor lets the backend run agents under runsc, created by g.
func (p *Podman) WithGVisor(g GVisor) *Podman {
	if g.Runtime == nil && p.host != "" {
		g.Runtime = RuntimeFrom(p.host)
	}
	p.eng.gvisor = &g
	return p
}

// engine is the backend's Podman service, with a container asking for
// runsc created by the gVisor service instead.
type engine struct {
	docker.Engine
	gvisor *GVisor
}

// ContainerCreate creates a container asking for runsc on the gVisor
// service and checks that Podman recorded runsc for it; any other on the
// backend's service (which applies its default runtime).
func (e *engine) ContainerCreate(ctx context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	if o.HostConfig == nil || o.HostConfig.Runtime != "runsc" {
		return e.Engine.ContainerCreate(ctx, o)
	}
	if e.gvisor == nil {
		return client.ContainerCreateResult{}, ErrNoGVisor
	}
	if e.gvisor.Runtime == nil || e.gvisor.Engine == nil {
		return client.ContainerCreateResult{}, fmt.Errorf("creating %s under runsc: the gvisor service cannot be used or checked", o.Name)
	}
	res, err := e.gvisor.Engine.ContainerCreate(ctx, o)
	if err != nil {
		return res, fmt.Errorf("creating %s on the gvisor service: %w", o.Name, err)
	}
	got, err := e.gvisor.Runtime(ctx, res.ID)
	if err == nil && got != "runsc" {
		err = fmt.Errorf("podman created it under %q", got)
	}
	if err != nil {
		e.Engine.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
		return client.ContainerCreateResult{}, fmt.Errorf("creating %s under runsc: %w", o.Name, err)
	}
	return res, nil
}

// gvisorReady checks, before anything is made, that the gVisor service
// answers, seals as the backend's own does, creates under runsc and
// shares the backend's store (main is the backend's service).
func (p *Podman) gvisorReady(ctx context.Context, main Info) error {
	g := p.eng.gvisor
	if g == nil {
		if p.noGVisor != nil {
			return fmt.Errorf("%w; the gvisor service: %v", ErrNoGVisor, p.noGVisor)
		}
		return ErrNoGVisor
	}
	if g.Info == nil {
		return errors.New("the gvisor service cannot describe itself (no Info)")
	}
	info, err := g.Info(ctx)
	if err != nil {
		return fmt.Errorf("the gvisor service: %w", err)
	}
	if err := Check(info); err != nil {
		return fmt.Errorf("the gvisor service: %w", err)
	}
	if info.OCIRuntime != "runsc" {
		return fmt.Errorf("the gvisor service creates containers under %q, not runsc: start it with `podman --runtime runsc system service` (docs/runtimes.md)", info.OCIRuntime)
	}
	if info.GraphRoot != main.GraphRoot || info.RunRoot != main.RunRoot {
		return fmt.Errorf("the gvisor service's store (%s, %s) is not the backend's (%s, %s): run both services with the same containers.conf and storage.conf", info.GraphRoot, info.RunRoot, main.GraphRoot, main.RunRoot)
	}
	return nil
}

// Open is the Podman backend on the service at host, with the gVisor
// service at gvisorHost when its socket is there ("" for none); closeFn
// closes both clients.
func Open(ctx context.Context, host, gvisorHost string, o docker.Options) (p *Podman, closeFn func(), err error) {
	cl, err := Connect(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	p = New(cl, InfoFrom(host), o)
	closeFn = func() { cl.Close() }
	path, ok := strings.CutPrefix(gvisorHost, "unix://")
	if !ok {
		return p, closeFn, nil
	}
	if _, err := os.Stat(path); err != nil {
		return p, closeFn, nil
	}
	g, err := Connect(ctx, gvisorHost)
	if err != nil {
		// Refused only when an agent asks for runsc.
		p.noGVisor = err
		return p, closeFn, nil
	}
	p.WithGVisor(GVisor{Engine: g, Info: InfoFrom(gvisorHost)})
	return p, func() { cl.Close(); g.Close() }, nil
}
