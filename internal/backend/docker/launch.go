package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/sidecar"
)

// ReadyLine starts the line the sidecar prints on stdout once every daemon
// listens.
const ReadyLine = sidecar.ReadyLine

// imageAgentID is the uid and gid of the "agent" user the agent images
// create (images/*/Dockerfile).
const imageAgentID = 1000

// The bridge option that leaves the bridge without a host address: the
// agent's network then has no path to any host listener.
const inhibitIPv4 = "com.docker.network.bridge.inhibit_ipv4"

// StepError is a failed launch step.
type StepError = backend.StepError

// ProbePath is where the agent finds the host's probe binary
// (LaunchOptions.ProbeBinary), mounted read-only: a directory of root's,
// so the agent can neither write the file nor replace it.
const ProbePath = "/usr/local/libexec/bot-bottle/bot-bottle"

// launch is one Launch in progress: what it made, to undo on failure.
// Steps run side by side (the sidecar's and the agent's), so what they
// share is behind mu.
type launch struct {
	d        *Docker
	b        plan.Bottle
	opts     backend.LaunchOptions
	progress io.Writer
	created  string
	mu       sync.Mutex
	undo     []func(context.Context)
}

func (l *launch) step(name string, f func() error) error {
	l.mu.Lock()
	fmt.Fprintf(l.progress, "• %s\n", name)
	l.mu.Unlock()
	if l.opts.Timer != nil {
		defer l.opts.Timer(name)()
	}
	if err := f(); err != nil {
		return &StepError{Step: name, Err: err}
	}
	return nil
}

// undoing registers what removes a part the launch made.
func (l *launch) undoing(f func(context.Context)) {
	l.mu.Lock()
	l.undo = append(l.undo, f)
	l.mu.Unlock()
}

// both runs a and b side by side and returns the first of their errors.
func both(a, b func() error) error {
	errb := make(chan error, 1)
	go func() { errb <- b() }()
	erra := a()
	if err := <-errb; erra == nil {
		return err
	}
	return erra
}

// Launch brings the bottle up: images, networks, sidecar (ready), agent.
func (d *Docker) Launch(ctx context.Context, b plan.Bottle, opts backend.LaunchOptions) (_ backend.Bottle, err error) {
	if b.Slug == "" || strings.ContainsAny(b.Slug, "/ :") {
		return backend.Bottle{}, fmt.Errorf("launching: bad slug %q", b.Slug)
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	l := &launch{d: d, b: b, opts: opts, progress: opts.Progress, created: time.Now().UTC().Format(time.RFC3339)}
	if l.progress == nil {
		l.progress = io.Discard
	}
	defer func() {
		if err == nil {
			return
		}
		// Tear down with a fresh context: ctx may be what was cancelled.
		cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		l.mu.Lock()
		defer l.mu.Unlock()
		for i := len(l.undo) - 1; i >= 0; i-- {
			l.undo[i](cctx)
		}
	}()
	out := backend.Bottle{Slug: b.Slug, Endpoints: backend.Endpoints{
		ProxyURL:     plan.DefaultProxyURL,
		SuperviseURL: plan.SuperviseURL(),
		GitGateURL:   plan.DefaultGitGateURL,
		NoProxy:      "localhost,127.0.0.1," + plan.SuperviseAlias + "," + plan.GitGateAlias,
	}}

	out.AgentUID, out.AgentGID = imageAgentID, imageAgentID
	if opts.UID != 0 {
		out.AgentUID, out.AgentGID = opts.UID, opts.GID
	}

	var runtime string
	if err := l.step("checking the engine", func() (err error) {
		if existing, lerr := d.eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: slugFilter(b.Slug)}); lerr != nil {
			return lerr
		} else if len(existing.Items) > 0 {
			return fmt.Errorf("bottle %s already has containers", b.Slug)
		}
		runtime, err = d.runtime(ctx, b.Runtime)
		return err
	}); err != nil {
		return backend.Bottle{}, err
	}
	if err := l.step("preparing images", func() (err error) {
		out.SidecarImage, out.AgentImage, err = d.ensureImages(ctx, b, opts, l.progress)
		return err
	}); err != nil {
		return backend.Bottle{}, err
	}
	if err := l.step("creating mount directories", func() error { return makeMountDirs(b.Mounts) }); err != nil {
		return backend.Bottle{}, err
	}

	var subnet netip.Prefix
	if err := l.step("creating the networks", func() (err error) {
		subnet, err = l.createNetworks(ctx)
		return err
	}); err != nil {
		return backend.Bottle{}, err
	}
	sidecarIP := subnet.Addr().Next().Next() // .1 is the (unassigned) gateway
	agentIP := sidecarIP.Next()
	out.Endpoints.DNS = netip.AddrPortFrom(sidecarIP, plan.DNSPort).String()
	if opts.ProbeBinary != "" {
		out.ProbePath = ProbePath
	}

	// The sidecar and the agent come up side by side: each has its own
	// fixed address, so neither can take the other's, and the agent idles
	// (sleep) until its command runs, which waits for the sidecar's ready
	// line below.
	// gVisor may keep a running sandbox's root file system from what the
	// engine writes, and Podman shadows /etc/passwd: there the user
	// entries and the CA go in before the starts.
	early := runtime == "runsc" || d.opts.FilesBeforeStart
	var sidecarID string
	sidecarUp := func() error {
		if err := l.step("creating the sidecar", func() (err error) {
			sidecarID, err = l.createSidecar(ctx, sidecarName(b.Slug), internalName(b.Slug), backend.RoleSidecar, out.SidecarImage, sidecarIP)
			return err
		}); err != nil {
			return err
		}
		if err := l.step("connecting the sidecar to the egress network", func() error {
			_, err := d.eng.NetworkConnect(ctx, egressName(b.Slug), client.NetworkConnectOptions{Container: sidecarID})
			return err
		}); err != nil {
			return err
		}
		// Its user entry is for git and ssh, which run on a push or a
		// fetch, never while the daemons start: it goes in beside the
		// boot (before it where early), and Launch returns only once it
		// is there.
		user := func() error {
			return l.step("adding the sidecar's user", func() error {
				return addUser(ctx, d.eng, sidecarID, opts.UID, opts.GID, "/home/bot-bottle")
			})
		}
		if early {
			if err := user(); err != nil {
				return err
			}
		}
		if err := l.step("starting the sidecar", func() error {
			_, err := d.eng.ContainerStart(ctx, sidecarID, client.ContainerStartOptions{})
			return err
		}); err != nil {
			return err
		}
		if early {
			return nil
		}
		return user()
	}
	agentUp := func() error {
		var agentID string
		if err := l.step("creating the agent", func() (err error) {
			agentID, err = l.createAgent(ctx, out, runtime, sidecarIP, agentIP)
			return err
		}); err != nil {
			return err
		}
		userAndCA := func() error {
			if opts.UID != 0 {
				if err := l.step("adding the agent's user", func() error {
					return addUser(ctx, d.eng, agentID, opts.UID, opts.GID, "/home/agent")
				}); err != nil {
					return err
				}
			}
			return l.step("installing the bottle CA", func() error {
				return installCA(ctx, d.eng, agentID, filepath.Join(b.StateDir, "ca", "ca.pem"))
			})
		}
		// gVisor may keep its root filesystem from what the engine writes
		// once it runs: there the user and the CA go in first.
		if early {
			if err := userAndCA(); err != nil {
				return err
			}
		}
		if err := l.step("starting the agent", func() error {
			_, err := d.eng.ContainerStart(ctx, agentID, client.ContainerStartOptions{})
			return err
		}); err != nil {
			return err
		}
		// The agent's walls are what they are from its start: attestation
		// may probe them now. Its user and CA are for what runs in it
		// later (provisioning, its command), after Launch returns.
		if opts.AgentRunning != nil {
			opts.AgentRunning(out)
		}
		if early {
			return nil
		}
		return userAndCA()
	}
	if err := both(sidecarUp, agentUp); err != nil {
		return backend.Bottle{}, err
	}
	if err := l.step("waiting for the sidecar", func() error { return d.waitReady(ctx, sidecarID) }); err != nil {
		return backend.Bottle{}, err
	}
	if len(b.GitConfig) > 0 {
		if err := l.step("configuring git in the agent", func() error { return d.gitConfig(ctx, b.Slug, b.GitConfig) }); err != nil {
			return backend.Bottle{}, err
		}
	}
	return out, nil
}

// runtime picks the agent's OCI runtime. want is the bottle's runtime
// key: "runsc" requires gVisor, "runc" forbids it (fail closed: a bottle
// whose key cannot be met is refused); "" takes the engine option, else
// runsc when the engine has it, else the engine's default, by name.
func (d *Docker) runtime(ctx context.Context, want string) (string, error) {
	if want == "" && d.opts.Runtime != "" {
		return d.opts.Runtime, nil
	}
	if want != "" && d.opts.Runtime != "" && want != d.opts.Runtime {
		return "", fmt.Errorf("the bottle's runtime is %s and the engine is set to run agents under %s", want, d.opts.Runtime)
	}
	info, err := d.eng.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("reading engine info: %w", err)
	}
	_, hasRunsc := info.Info.Runtimes["runsc"]
	switch want {
	case "runsc":
		if !hasRunsc {
			return "", errors.New("the bottle requires runtime runsc (gVisor) and the engine has none; register runsc with the engine (docs/runtimes.md)")
		}
		return "runsc", nil
	case "runc":
		if _, ok := info.Info.Runtimes["runc"]; ok {
			return "runc", nil
		}
		if info.Info.DefaultRuntime == "runsc" || info.Info.DefaultRuntime == "" {
			return "", errors.New("the bottle forbids runsc (runtime: runc) and the engine has no runc")
		}
		return info.Info.DefaultRuntime, nil
	case "":
	default:
		return "", fmt.Errorf("unknown runtime %q (runsc or runc)", want)
	}
	if hasRunsc && !d.opts.NoDefaultRunsc {
		return "runsc", nil
	}
	return info.Info.DefaultRuntime, nil
}

func (l *launch) labels(role string) map[string]string {
	return map[string]string{
		backend.LabelSlug:     l.b.Slug,
		backend.LabelRole:     role,
		backend.LabelAgent:    l.b.Agent.Name,
		backend.LabelLabel:    l.b.Label,
		backend.LabelCreated:  l.created,
		backend.LabelStateDir: l.b.StateDir,
	}
}

func (l *launch) createNetwork(ctx context.Context, name, role string, o client.NetworkCreateOptions) error {
	o.Labels = l.labels(role)
	res, err := l.d.eng.NetworkCreate(ctx, name, o)
	if err != nil {
		return err
	}
	l.undoing(func(ctx context.Context) {
		l.d.eng.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{})
	})
	return nil
}

// createNetworks makes the bottle's two networks side by side, from one
// list of the engine's networks: their names must be free (API 1.41
// accepts duplicates), and the agent's internal network takes a free /28
// of the pool (a fixed sidecar address needs a subnet of our own). It
// returns that subnet.
func (l *launch) createNetworks(ctx context.Context) (netip.Prefix, error) {
	used, err := l.subnetsInUse(ctx, internalName(l.b.Slug), egressName(l.b.Slug))
	if err != nil {
		return netip.Prefix{}, err
	}
	var subnet netip.Prefix
	err = both(func() (err error) {
		subnet, err = l.createInternalNetwork(ctx, internalName(l.b.Slug), used)
		return err
	}, func() error {
		return l.createNetwork(ctx, egressName(l.b.Slug), backend.RoleEgress, client.NetworkCreateOptions{Driver: "bridge"})
	})
	return subnet, err
}

// subnetsInUse are the subnets of the engine's networks; a network
// already called one of names is an error (a bottle's networks are new).
func (l *launch) subnetsInUse(ctx context.Context, names ...string) ([]netip.Prefix, error) {
	res, err := l.d.eng.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, err
	}
	var used []netip.Prefix
	for _, n := range res.Items {
		if slices.Contains(names, n.Name) {
			return nil, fmt.Errorf("network %s exists already", n.Name)
		}
		for _, c := range n.IPAM.Config {
			if c.Subnet.IsValid() {
				used = append(used, c.Subnet)
			}
		}
	}
	return used, nil
}

// createInternalNetwork makes the agent's network on a /28 of the pool
// that overlaps none of used.
func (l *launch) createInternalNetwork(ctx context.Context, name string, used []netip.Prefix) (netip.Prefix, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		subnet, ok := freeSubnet(l.d.opts.SubnetPool, used, time.Now().UnixNano())
		if !ok {
			return netip.Prefix{}, fmt.Errorf("no free /28 left in %s", l.d.opts.SubnetPool)
		}
		err := l.createNetwork(ctx, name, backend.RoleInternal, client.NetworkCreateOptions{
			Driver:   "bridge",
			Internal: true,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet: subnet, Gateway: subnet.Addr().Next(),
			}}},
			Options: map[string]string{inhibitIPv4: "true"},
		})
		if err == nil {
			return subnet, nil
		}
		// Another bottle may have taken it since the list: try another.
		lastErr = err
		used = append(used, subnet)
		if !strings.Contains(err.Error(), "overlap") {
			return netip.Prefix{}, err
		}
	}
	return netip.Prefix{}, lastErr
}

// freeSubnet returns a /28 of pool overlapping none of used, searching from
// a position derived from seed so concurrent launches rarely collide.
func freeSubnet(pool netip.Prefix, used []netip.Prefix, seed int64) (netip.Prefix, bool) {
	if !pool.Addr().Is4() || pool.Bits() > 28 {
		return netip.Prefix{}, false
	}
	n := 1 << (28 - pool.Bits())
	base := pool.Masked().Addr().As4()
	start := int(uint64(seed) % uint64(n))
	for i := 0; i < n; i++ {
		k := (start + i) % n
		v := (uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])) + uint32(k)<<4
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 28)
		if !slices.ContainsFunc(used, p.Overlaps) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func makeMountDirs(ms []plan.Mount) error {
	for _, m := range ms {
		// A missing bind source would be created by the engine, as root.
		if err := os.MkdirAll(m.Source, 0o700); err != nil {
			return err
		}
	}
	return nil
}

func mountsFor(ms []plan.Mount, who string) []mount.Mount {
	var out []mount.Mount
	for _, m := range ms {
		if m.Container == who {
			out = append(out, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
		}
	}
	return out
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func hardened(extra ...string) []string {
	return append([]string{"no-new-privileges:true"}, extra...)
}

// createSidecar makes the sidecar container name at ip on the internal
// network netName, labelled with role.
func (l *launch) createSidecar(ctx context.Context, name, netName, role, image string, ip netip.Addr) (string, error) {
	env := map[string]string{}
	for k, v := range l.b.SidecarEnv {
		env[k] = v
	}
	for _, name := range l.b.SidecarSecretEnv {
		v := l.opts.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("secret env %s is empty or unset on the host", name)
		}
		env[name] = v
	}
	env["HOME"] = "/home/bot-bottle"
	// The sidecar's own traffic goes direct: never inherit a proxy.
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
		delete(env, k)
	}
	init := true
	cfg := &container.Config{
		Image:    image,
		Hostname: "sidecar",
		User:     fmt.Sprintf("%d:%d", l.opts.UID, l.opts.GID),
		Env:      envList(env),
		Labels:   l.labels(role),
	}
	if l.d.opts.SidecarEntrypoint != nil {
		cfg.Entrypoint = l.d.opts.SidecarEntrypoint
	}
	pids := int64(512)
	hc := &container.HostConfig{
		Init:        &init,
		CapDrop:     []string{"ALL"},
		SecurityOpt: hardened(),
		Sysctls:     map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
		Mounts:      mountsFor(l.b.Mounts, backend.RoleSidecar),
		Resources:   container.Resources{PidsLimit: &pids, Ulimits: l.d.opts.Ulimits},
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		netName: {
			IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip},
			Aliases:    []string{plan.EgressAlias, plan.SuperviseAlias, plan.GitGateAlias},
		},
	}}
	return l.createContainer(ctx, name, cfg, hc, nc)
}

func (l *launch) createContainer(ctx context.Context, name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) (string, error) {
	res, err := l.d.eng.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc, NetworkingConfig: nc})
	if err != nil {
		return "", err
	}
	l.undoing(func(ctx context.Context) {
		l.d.eng.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	})
	return res.ID, nil
}

// AgentEnv is the agent's environment: the plan's, then the proxy and CA
// variables pointing at what this backend set up.
func AgentEnv(planned map[string]string, ep backend.Endpoints) map[string]string {
	env := map[string]string{}
	for k, v := range planned {
		env[k] = v
	}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		env[k] = ep.ProxyURL
	}
	env["NO_PROXY"] = ep.NoProxy
	env["no_proxy"] = ep.NoProxy
	// The plan sets these; a plan from elsewhere gets the same.
	for k, v := range plan.CAEnv() {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	return env
}

func (l *launch) createAgent(ctx context.Context, out backend.Bottle, runtime string, sidecarIP, agentIP netip.Addr) (string, error) {
	init := true
	cfg := &container.Config{
		Image:      out.AgentImage,
		Hostname:   l.b.Agent.Name,
		Env:        envList(AgentEnv(l.b.AgentEnv, out.Endpoints)),
		Labels:     l.labels(backend.RoleAgent),
		Entrypoint: []string{"sleep"},
		Cmd:        []string{"infinity"},
	}
	if runtime != "" {
		cfg.Labels[backend.LabelRuntime] = runtime
	}
	if l.opts.UID != 0 {
		cfg.User = fmt.Sprintf("%d:%d", l.opts.UID, l.opts.GID)
	}
	hc := &container.HostConfig{
		Init:        &init,
		Runtime:     runtime,
		CapDrop:     []string{"ALL"},
		SecurityOpt: hardened(),
		// The engine's resolver in the agent forwards to the sidecar only.
		DNS:       []netip.Addr{sidecarIP},
		Sysctls:   map[string]string{"net.ipv6.conf.all.disable_ipv6": "1"},
		Mounts:    mountsFor(l.b.Mounts, backend.RoleAgent),
		Resources: l.agentResources(),
	}
	if runtime == "runsc" {
		m, err := l.sidecarResolvConf(sidecarIP)
		if err != nil {
			return "", err
		}
		hc.Mounts = append(hc.Mounts, m)
	}
	if out.ProbePath != "" {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: l.opts.ProbeBinary, Target: out.ProbePath, ReadOnly: true})
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		internalName(l.b.Slug): {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: agentIP}},
	}}
	id, err := l.createContainer(ctx, agentName(l.b.Slug), cfg, hc, nc)
	if err != nil && strings.Contains(err.Error(), "disable_ipv6") {
		// A kernel without IPv6 has no such sysctl, and no IPv6 to turn off.
		delete(hc.Sysctls, "net.ipv6.conf.all.disable_ipv6")
		return l.createContainer(ctx, agentName(l.b.Slug), cfg, hc, nc)
	}
	return id, err
}

// sidecarResolvConf is a read-only /etc/resolv.conf naming the sidecar as
// the only nameserver, for an agent under gVisor: the engine's resolver
// (127.0.0.11) is reached through NAT rules in the container's network
// namespace, which gVisor's own network stack does not run, so there the
// agent asks the sidecar directly (it answers the aliases itself).
func (l *launch) sidecarResolvConf(sidecarIP netip.Addr) (mount.Mount, error) {
	path := filepath.Join(l.b.StateDir, "agent-resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver "+sidecarIP.String()+"\noptions ndots:0\n"), 0o644); err != nil {
		return mount.Mount{}, fmt.Errorf("writing the agent's resolv.conf: %w", err)
	}
	return mount.Mount{Type: mount.TypeBind, Source: path, Target: "/etc/resolv.conf", ReadOnly: true}, nil
}

// waitReady follows the sidecar's output until the ready line, the
// container's end, or the timeout.
func (d *Docker) waitReady(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.ReadyTimeout)
	defer cancel()
	logs, err := d.eng.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return fmt.Errorf("reading sidecar output: %w", err)
	}
	defer logs.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, logs)
		pw.CloseWithError(err)
	}()
	var tail []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ReadyLine) {
			return nil
		}
		tail = append(tail, line)
		if len(tail) > 20 {
			tail = tail[1:]
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sidecar not ready after %s; its last output:\n%s", d.opts.ReadyTimeout, strings.Join(tail, "\n"))
	}
	state := "?"
	if res, err := d.eng.ContainerInspect(context.WithoutCancel(ctx), id, client.ContainerInspectOptions{}); err == nil && res.Container.State != nil {
		state = fmt.Sprintf("%s, exit code %d", res.Container.State.Status, res.Container.State.ExitCode)
	}
	return fmt.Errorf("sidecar ended before ready (%s); its last output:\n%s", state, strings.Join(tail, "\n"))
}

// gitConfig applies the plan's git configuration in one exec.
func (d *Docker) gitConfig(ctx context.Context, slug string, entries []plan.GitConfigEntry) error {
	cmd := []string{"sh", "-c", `while [ $# -gt 0 ]; do git config --global --add "$1" "$2" || exit 1; shift 2; done`, "git-config"}
	for _, e := range entries {
		cmd = append(cmd, e.Key, e.Value)
	}
	var stderr strings.Builder
	code, err := d.Exec(ctx, slug, backend.ExecSpec{Cmd: cmd, Stdout: io.Discard, Stderr: &stderr})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("git config exited %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// agentResources are the agent's limits: the bottle's resources key (the
// plan fills its defaults), else the backend's options.
func (l *launch) agentResources() container.Resources {
	pids, mem := l.d.opts.PidsLimit, l.d.opts.MemoryBytes
	if r := l.b.Resources; r.Pids != 0 {
		pids = r.Pids
	}
	if r := l.b.Resources; r.MemoryBytes != 0 {
		mem = r.MemoryBytes
	}
	return container.Resources{
		PidsLimit: &pids,
		Memory:    mem,
		NanoCPUs:  int64(l.b.Resources.CPUs * 1e9),
		Ulimits:   l.d.opts.Ulimits,
	}
}
