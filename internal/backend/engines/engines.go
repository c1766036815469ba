// Package engines opens a backend by name. It is the one place that knows
// which engines exist: everything above internal/backend asks it for
// "docker", "podman" (and whatever else registers here) and then talks to
// the backend.Backend interface only.
package engines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/backend/kubernetes"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman"
)

// EnvBackend names the backend start uses when --backend is not given.
const EnvBackend = "BOT_BOTTLE_BACKEND"

// Default is the backend used when neither --backend nor EnvBackend names
// one.
const Default = "docker"

// Config is what every backend takes from the host.
type Config struct {
	// Base and SidecarBase replace the base images the Dockerfiles start
	// FROM ("" = the defaults).
	Base, SidecarBase string
	// SidecarBinary is a static bot-bottle for the sidecar image ("" =
	// the running executable).
	SidecarBinary string
	// Runtime is the agent's OCI runtime: "" picks runsc when the engine
	// has it.
	Runtime string
	// Context and Namespace place bottles on a cluster engine: the
	// kubeconfig context ("" = its current one) and namespace ("" = the
	// context's).
	Context, Namespace string
	// Getenv reads the host environment (engine addresses such as
	// DOCKER_HOST or CONTAINER_HOST); nil reads nothing.
	Getenv func(string) string
}

func (c Config) getenv(k string) string {
	if c.Getenv == nil {
		return ""
	}
	return c.Getenv(k)
}

// An engine is one entry of the table: how to tell whether it is set up on
// this machine at all, and how to open it.
type engine struct {
	// present reports whether the engine is configured here (its socket
	// or address exists); OpenAll skips the absent ones silently.
	present func(Config) bool
	open    func(context.Context, Config) (backend.Backend, func(), error)
}

// table lists every backend by name.
func table() map[string]engine {
	return map[string]engine{
		"docker":     {present: dockerPresent, open: openDocker},
		"podman":     {present: podmanPresent, open: openPodman},
		"kubernetes": {present: kubernetesPresent, open: openKubernetes},
	}
}

// Names are the backends this build knows, sorted.
func Names() []string {
	var out []string
	for n := range table() {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Choose is the backend to start on: flag when set, else EnvBackend, else
// Default. An unknown name is an error that lists the known ones.
func Choose(flag string, getenv func(string) string) (string, error) {
	name := flag
	if name == "" && getenv != nil {
		name = getenv(EnvBackend)
	}
	if name == "" {
		name = Default
	}
	if _, ok := table()[name]; !ok {
		return "", fmt.Errorf("unknown backend %q: use one of %s", name, strings.Join(Names(), ", "))
	}
	return name, nil
}

// Open connects to the backend called name. The returned func releases it.
func Open(ctx context.Context, name string, c Config) (backend.Backend, func(), error) {
	e, ok := table()[name]
	if !ok {
		return nil, nil, fmt.Errorf("unknown backend %q: use one of %s", name, strings.Join(Names(), ", "))
	}
	return e.open(ctx, c)
}

// dockerPresent: DOCKER_HOST is set or the default socket exists.
func dockerPresent(c Config) bool {
	if c.getenv("DOCKER_HOST") != "" {
		return true
	}
	_, err := os.Stat("/var/run/docker.sock")
	return err == nil
}

func openDocker(ctx context.Context, c Config) (backend.Backend, func(), error) {
	cl, err := docker.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	d := docker.New(cl, docker.Options{
		Base:          c.Base,
		SidecarBase:   c.SidecarBase,
		SidecarBinary: c.SidecarBinary,
		Runtime:       c.Runtime,
	})
	return d, func() { cl.Close() }, nil
}

// OpenAll connects to every engine configured on this machine and returns
// them as one backend (see All). An engine that is configured but does
// not answer is an error when strict (cleanup must not take a bottle's
// state for abandoned because its engine is down), else skipped; no
// engine answering at all is always an error.
func OpenAll(ctx context.Context, c Config, strict bool) (*All, func(), error) {
	a := &All{}
	var closers []func()
	var errs []error
	for _, name := range Names() {
		e := table()[name]
		if !e.present(c) {
			continue
		}
		be, closeFn, err := e.open(ctx, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.backends = append(a.backends, be)
		closers = append(closers, closeFn)
	}
	closeAll := func() {
		for _, f := range closers {
			f()
		}
	}
	if len(a.backends) == 0 || (strict && len(errs) > 0) {
		closeAll()
		if len(errs) == 0 {
			errs = append(errs, errors.New("no container engine is configured"))
		}
		return nil, nil, errors.Join(errs...)
	}
	a.Unreachable = errs
	return a, closeAll, nil
}

func podmanPresent(c Config) bool { return podman.Present(c.getenv, os.Getuid()) }

func openPodman(ctx context.Context, c Config) (backend.Backend, func(), error) {
	host := podman.Socket(c.getenv, os.Getuid())
	p, closeFn, err := podman.Open(ctx, host, podman.GVisorSocket(c.getenv, host), docker.Options{
		Base:          c.Base,
		SidecarBase:   c.SidecarBase,
		SidecarBinary: c.SidecarBinary,
		Runtime:       c.Runtime,
	})
	if err != nil {
		return nil, nil, err
	}
	return p, closeFn, nil
}

// CheckSidecarBinary checks, before anything is made, that the binary the
// sidecar image will carry (path, or the running executable when "") is
// static; IsNotStatic tells that failure apart.
func CheckSidecarBinary(path string) error {
	_, err := docker.SidecarBinary(path)
	return err
}

// IsNotStatic reports whether err is CheckSidecarBinary's "dynamically
// linked".
func IsNotStatic(err error) bool { return errors.Is(err, docker.ErrNotStatic) }

// kubernetesPresent: a kubeconfig is where kubectl looks for one.
func kubernetesPresent(c Config) bool { return kubernetes.Present(c.getenv) }

func openKubernetes(ctx context.Context, c Config) (backend.Backend, func(), error) {
	cfg, cs, ns, err := kubernetes.Connect(ctx, c.Context, c.Namespace)
	if err != nil {
		return nil, nil, err
	}
	k := kubernetes.New(cs, kubernetes.Options{Namespace: ns, Exec: kubernetes.RESTExecutor(cfg, cs.CoreV1().RESTClient())})
	return k, func() {}, nil
}
