// Package docker runs bottles on a Docker engine through the Engine API. It
// works with Engine 20.10 (API 1.41) and newer.
//
// Per bottle: an internal network (no route out, and sealed from the host
// with the bridge option inhibit_ipv4, so the bridge holds no host address)
// and an egress network; the sidecar on both (aliases egress, supervise,
// git-gate and a fixed address on the internal one), the agent on the
// internal network only, resolving through the sidecar.
package docker

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/images"
	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// Engine is the part of the Docker client the backend uses.
type Engine interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)

	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageBuild(ctx context.Context, context io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
	ImageTag(ctx context.Context, options client.ImageTagOptions) (client.ImageTagResult, error)
	ImageList(ctx context.Context, options client.ImageListOptions) (client.ImageListResult, error)
	ImageRemove(ctx context.Context, image string, options client.ImageRemoveOptions) (client.ImageRemoveResult, error)

	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkConnect(ctx context.Context, network string, options client.NetworkConnectOptions) (client.NetworkConnectResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, network string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)

	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, container string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerStop(ctx context.Context, container string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRemove(ctx context.Context, container string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, container string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerLogs(ctx context.Context, container string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ContainerCommit(ctx context.Context, container string, options client.ContainerCommitOptions) (client.ContainerCommitResult, error)
	CopyToContainer(ctx context.Context, container string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)
	CopyFromContainer(ctx context.Context, container string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)

	ExecCreate(ctx context.Context, container string, options client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, options client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, options client.ExecInspectOptions) (client.ExecInspectResult, error)
	ExecResize(ctx context.Context, execID string, options client.ExecResizeOptions) (client.ExecResizeResult, error)
}

var _ Engine = (*client.Client)(nil)

var _ backend.Backend = (*Docker)(nil)

// Options tune the backend; the zero value is the secure default.
type Options struct {
	// Base is the base image the Dockerfiles start FROM (default
	// images.DefaultBase).
	Base string
	// SidecarBase is the base of the sidecar image (default
	// images.SidecarBase: only what git-gate needs besides the binary).
	SidecarBase string
	// SidecarBinary is a static bot-bottle binary on the host for the
	// sidecar image ("" = the running executable, which must be static).
	SidecarBinary string
	// SidecarEntrypoint replaces the sidecar image's entrypoint. Tests use
	// it to run a stand-in; nil runs `bot-bottle sidecar`.
	SidecarEntrypoint []string
	// ReadyTimeout bounds the wait for the sidecar's ready line (default 60s).
	ReadyTimeout time.Duration
	// Runtime is the OCI runtime of the agent: "" picks runsc when the
	// engine has it, else the engine's default.
	Runtime string
	// PidsLimit and MemoryBytes limit the agent (defaults 1024 and 4 GiB).
	PidsLimit   int64
	MemoryBytes int64
	// SubnetPool is where per-bottle internal /28 subnets are taken from
	// (default 10.213.0.0/16).
	SubnetPool netip.Prefix
	// BuildNetworks are existing networks a capability build's sidecar
	// joins besides its own egress network: for tests, a stand-in
	// internet (a Debian mirror reached by its name).
	BuildNetworks []string

	// Engines that speak the Docker API but differ (package podman sets
	// these; each difference is documented in docs/runtimes.md).

	// Name is the backend's name (default "docker").
	Name string
	// Ulimits are set on every container (nil: the engine's defaults).
	Ulimits []*container.Ulimit
	// NoDefaultRunsc keeps the agent on the engine's default runtime
	// unless Runtime asks for runsc: for an engine whose runtime list is
	// its configuration, not what is installed and works.
	NoDefaultRunsc bool
	// FilesBeforeStart writes the containers' user entries and the CA
	// before they start: for an engine where a write into a running
	// container is not what it then sees (Podman bind-mounts an
	// /etc/passwd of its own over one that lacks the user at start).
	FilesBeforeStart bool
}

// Docker is the Docker backend.
type Docker struct {
	eng  Engine
	opts Options
}

// New returns a backend over eng.
func New(eng Engine, opts Options) *Docker {
	if opts.Base == "" {
		opts.Base = images.DefaultBase
	}
	if opts.SidecarBase == "" {
		opts.SidecarBase = images.SidecarBase
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	if opts.PidsLimit == 0 {
		opts.PidsLimit = 1024
	}
	if opts.MemoryBytes == 0 {
		opts.MemoryBytes = 4 << 30
	}
	if opts.Name == "" {
		opts.Name = "docker"
	}
	if !opts.SubnetPool.IsValid() {
		opts.SubnetPool = netip.MustParsePrefix("10.213.0.0/16")
	}
	return &Docker{eng: eng, opts: opts}
}

// Connect opens a client from the environment (DOCKER_HOST and friends)
// and checks that an engine answers, negotiating the API version down to
// the engine's (1.41 on Engine 20.10).
func Connect(ctx context.Context) (*client.Client, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("connecting to docker: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to docker at %s: %w", c.DaemonHost(), err)
	}
	return c, nil
}

// Name is "docker", or the name Options gave.
func (d *Docker) Name() string { return d.opts.Name }

// Names of a bottle's parts.
func sidecarName(slug string) string  { return "bot-bottle-" + slug + "-sidecar" }
func agentName(slug string) string    { return "bot-bottle-" + slug + "-agent" }
func internalName(slug string) string { return "bot-bottle-" + slug + "-internal" }
func egressName(slug string) string   { return "bot-bottle-" + slug + "-egress" }

// slugFilter selects everything of one bottle (or every bottle, slug "").
func slugFilter(slug string) client.Filters {
	if slug == "" {
		return client.Filters{}.Add("label", backend.LabelSlug)
	}
	return client.Filters{}.Add("label", backend.LabelSlug+"="+slug)
}

// agentID finds the agent container of slug.
func (d *Docker) agentID(ctx context.Context, slug string) (string, error) {
	return d.roleID(ctx, slug, backend.RoleAgent)
}

func (d *Docker) roleID(ctx context.Context, slug, role string) (string, error) {
	c, err := d.roleContainer(ctx, slug, role)
	return c.ID, err
}

// agent is the agent container's ID and the OCI runtime it was created
// with (its bot-bottle.runtime label).
func (d *Docker) agent(ctx context.Context, slug string) (id, runtime string, err error) {
	c, err := d.roleContainer(ctx, slug, backend.RoleAgent)
	return c.ID, c.Labels[backend.LabelRuntime], err
}

func (d *Docker) roleContainer(ctx context.Context, slug, role string) (container.Summary, error) {
	f := slugFilter(slug).Add("label", backend.LabelRole+"="+role)
	res, err := d.eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return container.Summary{}, fmt.Errorf("listing containers of %s: %w", slug, err)
	}
	if len(res.Items) == 0 {
		return container.Summary{}, fmt.Errorf("%s container of %s: %w", role, slug, backend.ErrNotFound)
	}
	return res.Items[0], nil
}

// Stop stops the agent, then the sidecar.
func (d *Docker) Stop(ctx context.Context, slug string) error {
	found := false
	for _, role := range []string{backend.RoleAgent, backend.RoleSidecar} {
		id, err := d.roleID(ctx, slug, role)
		if err != nil {
			continue
		}
		found = true
		timeout := 10
		if _, err := d.eng.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			return fmt.Errorf("stopping %s of %s: %w", role, slug, err)
		}
	}
	if !found {
		return fmt.Errorf("stopping %s: %w", slug, backend.ErrNotFound)
	}
	return nil
}

// Remove removes the bottle's containers and networks.
func (d *Docker) Remove(ctx context.Context, slug string) error {
	if slug == "" {
		return fmt.Errorf("removing: empty slug")
	}
	cs, err := d.eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: slugFilter(slug)})
	if err != nil {
		return fmt.Errorf("removing %s: listing containers: %w", slug, err)
	}
	for _, c := range cs.Items {
		if _, err := d.eng.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			return fmt.Errorf("removing %s: container %s: %w", slug, c.ID[:12], err)
		}
	}
	ns, err := d.eng.NetworkList(ctx, client.NetworkListOptions{Filters: slugFilter(slug)})
	if err != nil {
		return fmt.Errorf("removing %s: listing networks: %w", slug, err)
	}
	for _, n := range ns.Items {
		if _, err := d.eng.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("removing %s: network %s: %w", slug, n.Name, err)
		}
	}
	return nil
}

// List reports every bottle with a container or network on the engine.
func (d *Docker) List(ctx context.Context) ([]backend.Summary, error) {
	cs, err := d.eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: slugFilter("")})
	if err != nil {
		return nil, fmt.Errorf("listing bottles: %w", err)
	}
	bySlug := map[string]*backend.Summary{}
	var order []string
	get := func(slug string) *backend.Summary {
		s, ok := bySlug[slug]
		if !ok {
			s = &backend.Summary{Slug: slug, State: "missing", Sidecar: "missing", Backend: d.Name()}
			bySlug[slug] = s
			order = append(order, slug)
		}
		return s
	}
	for _, c := range cs.Items {
		s := get(c.Labels[backend.LabelSlug])
		switch c.Labels[backend.LabelRole] {
		case backend.RoleAgent:
			s.State = string(c.State)
			s.Image = c.Image
			s.Agent = c.Labels[backend.LabelAgent]
			s.Label = c.Labels[backend.LabelLabel]
			s.StateDir = c.Labels[backend.LabelStateDir]
			s.Runtime = c.Labels[backend.LabelRuntime]
			if t, err := time.Parse(time.RFC3339, c.Labels[backend.LabelCreated]); err == nil {
				s.Created = t
			}
		case backend.RoleSidecar:
			s.Sidecar = string(c.State)
		}
	}
	ns, err := d.eng.NetworkList(ctx, client.NetworkListOptions{Filters: slugFilter("")})
	if err != nil {
		return nil, fmt.Errorf("listing bottles: %w", err)
	}
	for _, n := range ns.Items {
		s := get(n.Labels[backend.LabelSlug])
		if s.StateDir == "" {
			s.StateDir = n.Labels[backend.LabelStateDir]
		}
	}
	out := make([]backend.Summary, 0, len(order))
	for _, slug := range order {
		out = append(out, *bySlug[slug])
	}
	return out, nil
}

// Commit snapshots the agent container.
func (d *Docker) Commit(ctx context.Context, slug, image string) (string, error) {
	id, err := d.agentID(ctx, slug)
	if err != nil {
		return "", fmt.Errorf("committing %s: %w", slug, err)
	}
	if image == "" {
		image = "bot-bottle/commit-" + slug + ":" + time.Now().UTC().Format("20060102-150405")
	}
	_, err = d.eng.ContainerCommit(ctx, id, client.ContainerCommitOptions{
		Reference: image,
		Comment:   "bot-bottle commit of " + slug,
		Config:    &container.Config{Labels: map[string]string{LabelCommittedFrom: slug}},
	})
	if err != nil {
		return "", fmt.Errorf("committing %s: %w", slug, err)
	}
	return image, nil
}
