package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// RoleCapabilityBuild labels the sidecar, the networks' owner and the
// containers of a capability build (with the bottle's slug, so rm and
// cleanup find what a crashed build left).
const RoleCapabilityBuild = "capability-build"

// Names of a capability build's parts.
func buildSidecarName(slug string) string  { return "bot-bottle-" + slug + "-build-sidecar" }
func buildInternalName(slug string) string { return "bot-bottle-" + slug + "-build-internal" }
func buildEgressName(slug string) string   { return "bot-bottle-" + slug + "-build-egress" }
func buildRunName(slug string) string      { return "bot-bottle-" + slug + "-build-run" }

// buildEnv is a running build sidecar: the only way out of the containers
// that run approved lines.
type buildEnv struct {
	d         *Docker
	b         plan.Bottle
	l         *launch
	sidecarIP netip.Addr
	// egressLog is the build proxy's log on the host (JSON Lines).
	egressLog string
	// resolvConf names the build sidecar as the only nameserver.
	resolvConf string
	// caDir holds the bottle CA certificate (agent-ca/ on the host).
	caDir string
}

// startBuild brings up the build sidecar: an internal network of its own
// (no route out, no host address) and an egress network, the sidecar on
// both running only the proxy and the refusing resolver, with the policy
// the caller wrote (plan.Bottle.CapabilityPolicy). The returned stop
// removes everything it made.
func (d *Docker) startBuild(ctx context.Context, cb backend.CapabilityBuild, progress io.Writer) (*buildEnv, func(), error) {
	b := cb.Bottle
	mounts := b.CapabilityMounts()
	b.Mounts, b.SidecarEnv = mounts, b.CapabilitySidecarEnv()
	opts := cb.Launch
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	l := &launch{d: d, b: b, opts: opts, progress: io.Discard, created: time.Now().UTC().Format(time.RFC3339)}
	stop := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := len(l.undo) - 1; i >= 0; i-- {
			l.undo[i](cctx)
		}
	}
	env := &buildEnv{d: d, b: b, l: l}
	for _, m := range mounts {
		switch {
		case m.Target == plan.SidecarLogsDir:
			env.egressLog = filepath.Join(m.Source, plan.DaemonEgress+".jsonl")
			env.resolvConf = filepath.Join(m.Source, "..", "resolv.conf")
		case m.Target == plan.AgentCADir:
			env.caDir = m.Source
		}
	}
	fail := func(step string, err error) (*buildEnv, func(), error) {
		stop()
		return nil, nil, fmt.Errorf("capability build: %s: %w", step, err)
	}
	if env.egressLog == "" || env.caDir == "" {
		return fail("planning", fmt.Errorf("the plan gives the build sidecar no logs or CA directory"))
	}
	if err := makeMountDirs(mounts); err != nil {
		return fail("creating mount directories", err)
	}
	image, err := d.sidecarImage(ctx, b, progress)
	if err != nil {
		return fail("preparing the sidecar image", err)
	}
	if err := d.removeBuildLeftovers(ctx, b.Slug); err != nil {
		return fail("removing what an earlier build left", err)
	}
	used, err := l.subnetsInUse(ctx, buildInternalName(b.Slug))
	if err != nil {
		return fail("creating the build network", err)
	}
	subnet, err := l.createInternalNetwork(ctx, buildInternalName(b.Slug), used)
	if err != nil {
		return fail("creating the build network", err)
	}
	env.sidecarIP = subnet.Addr().Next().Next()
	if err := os.WriteFile(env.resolvConf, []byte("nameserver "+env.sidecarIP.String()+"\noptions ndots:0\n"), 0o644); err != nil {
		return fail("writing the build's resolv.conf", err)
	}
	if err := l.createNetwork(ctx, buildEgressName(b.Slug), backend.RoleEgress, client.NetworkCreateOptions{Driver: "bridge"}); err != nil {
		return fail("creating the build's egress network", err)
	}
	id, err := l.createSidecar(ctx, buildSidecarName(b.Slug), buildInternalName(b.Slug), RoleCapabilityBuild, image, env.sidecarIP)
	if err != nil {
		return fail("creating the build sidecar", err)
	}
	for _, n := range append([]string{buildEgressName(b.Slug)}, d.opts.BuildNetworks...) {
		if _, err := d.eng.NetworkConnect(ctx, n, client.NetworkConnectOptions{Container: id}); err != nil {
			return fail("connecting the build sidecar to "+n, err)
		}
	}
	if err := addUser(ctx, d.eng, id, opts.UID, opts.GID, "/home/bot-bottle"); err != nil {
		return fail("adding the build sidecar's user", err)
	}
	if _, err := d.eng.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fail("starting the build sidecar", err)
	}
	if err := d.waitReady(ctx, id); err != nil {
		return fail("waiting for the build sidecar", err)
	}
	return env, stop, nil
}

// removeBuildLeftovers removes the containers and networks of an earlier
// build of slug that did not end (a killed start): their names would be
// taken.
func (d *Docker) removeBuildLeftovers(ctx context.Context, slug string) error {
	for _, name := range []string{buildRunName(slug), buildSidecarName(slug)} {
		if _, err := d.eng.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			return fmt.Errorf("container %s: %w", name, err)
		}
	}
	for _, name := range []string{buildInternalName(slug), buildEgressName(slug)} {
		if _, err := d.eng.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("network %s: %w", name, err)
		}
	}
	return nil
}

// proxyEnv is what a build line runs with: the build proxy for http and
// https, and the bottle CA in every variable of the CA matrix (the
// agent's). It is the exec's environment only: no commit keeps it.
func (e *buildEnv) proxyEnv() []string {
	proxy := "http://" + netip.AddrPortFrom(e.sidecarIP, plan.EgressPort).String()
	env := map[string]string{"NO_PROXY": "localhost,127.0.0.1", "no_proxy": "localhost,127.0.0.1"}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		env[k] = proxy
	}
	for k, v := range plan.CAEnv() {
		if k != "JAVA_TOOL_OPTIONS" { // it names the proxy by the agent's alias
			env[k] = v
		}
	}
	return envList(env)
}

// container makes a stopped container from image (whose configuration
// is base) on the build's internal network: its resolver is the build
// sidecar alone (resolv.conf names it, and the engine's resolver forwards
// only to it), the bottle CA is mounted where the agent has it, and it
// idles until lines run in it. It idles as the image's command when the
// image has no entrypoint (the agent images), so a commit that takes the
// container's configuration keeps the image's entrypoint; else as its
// entrypoint.
func (e *buildEnv) container(ctx context.Context, image string, base *dockerspec.DockerOCIImageConfig) (string, error) {
	init := true
	cfg := &container.Config{
		Image: image,
		// As root: an exec as root in a container of another user gets no
		// capabilities (apt could not drop to _apt); the commit keeps the
		// image's own user.
		User:   "0:0",
		Cmd:    []string{"sleep", "infinity"},
		Labels: map[string]string{backend.LabelSlug: e.b.Slug},
	}
	if base != nil && len(base.Entrypoint) > 0 {
		cfg.Entrypoint, cfg.Cmd = cfg.Cmd, nil
	}
	hc := &container.HostConfig{
		Init:        &init,
		NetworkMode: container.NetworkMode(buildInternalName(e.b.Slug)),
		DNS:         []netip.Addr{e.sidecarIP},
		CapDrop:     []string{"NET_RAW"},
		SecurityOpt: hardened(),
		Sysctls:     map[string]string{"net.ipv6.conf.all.disable_ipv6": "1"},
		Mounts: []mount.Mount{
			{Type: mount.TypeBind, Source: e.resolvConf, Target: "/etc/resolv.conf", ReadOnly: true},
			{Type: mount.TypeBind, Source: e.caDir, Target: plan.AgentCADir, ReadOnly: true},
		},
		Resources: container.Resources{Ulimits: e.d.opts.Ulimits},
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{buildInternalName(e.b.Slug): {}}}
	opts := client.ContainerCreateOptions{Name: buildRunName(e.b.Slug), Config: cfg, HostConfig: hc, NetworkingConfig: nc}
	res, err := e.d.eng.ContainerCreate(ctx, opts)
	if err != nil && strings.Contains(err.Error(), "disable_ipv6") {
		delete(hc.Sysctls, "net.ipv6.conf.all.disable_ipv6")
		res, err = e.d.eng.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return "", fmt.Errorf("creating the build container: %w", err)
	}
	return res.ID, nil
}

func (e *buildEnv) remove(id string) {
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.d.eng.ContainerRemove(cctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

// step is one approved instruction as the build runs it.
type step struct {
	// Argv runs in a container from the previous image (nil: none runs).
	Argv []string
	// Changes are Dockerfile instructions the commit applies (ENV, WORKDIR).
	Changes []string
	// Refused says why the instruction is not built ("" when it is).
	Refused string
}

// stepOf reads a unit: RUN (shell or exec form) runs; ENV and WORKDIR are
// commit changes; anything else is refused with the reason, like a
// failing line.
func stepOf(u Unit) step {
	if u.Open {
		return step{Refused: "this approved line ends with a backslash: it would join the lines bot-bottle adds"}
	}
	instr := joinInstruction(u.Text)
	word, args, _ := strings.Cut(instr, " ")
	if w, a, ok := strings.Cut(instr, "\t"); ok && len(w) < len(word) {
		word, args = w, a
	}
	args = strings.TrimSpace(args)
	switch kw := strings.ToUpper(word); kw {
	case "RUN":
		switch {
		case args == "":
			return step{Refused: "RUN has no command"}
		case strings.HasPrefix(args, "--"):
			return step{Refused: "RUN flags (--mount, --network, --security) are not applied by a capability build"}
		case strings.HasPrefix(args, "<<"):
			return step{Refused: "RUN heredocs are not applied by a capability build"}
		}
		var argv []string
		if strings.HasPrefix(args, "[") && json.Unmarshal([]byte(args), &argv) == nil && len(argv) > 0 {
			return step{Argv: argv}
		}
		return step{Argv: []string{"/bin/sh", "-c", args}}
	case "ENV", "WORKDIR":
		if args == "" {
			return step{Refused: kw + " has no argument"}
		}
		return step{Changes: []string{kw + " " + args}}
	case "USER":
		return step{Refused: "USER is not applied: approved lines run as root and the agent keeps its image's user"}
	default:
		return step{Refused: kw + " is not applied by a capability build (RUN, ENV and WORKDIR are)"}
	}
}

// joinInstruction is the instruction of a unit on one line: comments and
// blank lines dropped, continuation backslashes joined as the engine's
// builder joins them.
func joinInstruction(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		l = strings.TrimRight(l, " \t\r")
		if body, cont := strings.CutSuffix(l, `\`); cont {
			b.WriteString(body)
			continue
		}
		b.WriteString(l)
		break
	}
	return strings.TrimSpace(b.String())
}

// commitConfig is the image configuration a commit from an image whose
// configuration is base keeps: base's own, with labels. It is sent whole
// because the engine fills what is empty from the build container (its
// sleep entrypoint): a nil entrypoint is sent as an empty one. Exposed
// ports and volumes come through the container, which took them from
// base.
func commitConfig(base *dockerspec.DockerOCIImageConfig, labels map[string]string) *container.Config {
	cfg := &container.Config{Labels: map[string]string{}, Entrypoint: []string{}}
	if base != nil {
		cfg.User, cfg.Env, cfg.Cmd, cfg.WorkingDir = base.User, slices.Clone(base.Env), slices.Clone(base.Cmd), base.WorkingDir
		cfg.StopSignal, cfg.ArgsEscaped = base.StopSignal, base.ArgsEscaped //nolint:staticcheck // kept as the image has it
		cfg.Healthcheck, cfg.OnBuild, cfg.Shell = base.Healthcheck, slices.Clone(base.OnBuild), slices.Clone(base.Shell)
		if base.Entrypoint != nil {
			cfg.Entrypoint = slices.Clone(base.Entrypoint)
		}
		for k, v := range base.Labels {
			cfg.Labels[k] = v
		}
	}
	for k, v := range labels {
		cfg.Labels[k] = v
	}
	return cfg
}

// commitChanges are the step's changes, then the previous image's user,
// entrypoint and command and the labels, as Dockerfile instructions: an
// engine that takes the configuration of a commit from the container and
// not from the request (Podman's compatible API does) still restores
// them.
func commitChanges(base *dockerspec.DockerOCIImageConfig, step []string, labels map[string]string) []string {
	out := slices.Clone(step)
	user, entry, cmd := "root", []string(nil), []string(nil)
	if base != nil {
		if base.User != "" {
			user = base.User
		}
		entry, cmd = base.Entrypoint, base.Cmd
	}
	js := func(v []string) string { b, _ := json.Marshal(v); return string(b) }
	out = append(out, "USER "+user)
	// An empty ENTRYPOINT or CMD would be filled from the container: the
	// container leaves the image's entrypoint as it is when it has none
	// (see container).
	if len(entry) > 0 {
		out = append(out, "ENTRYPOINT "+js(entry))
	}
	if len(cmd) > 0 {
		out = append(out, "CMD "+js(cmd))
	}
	keys := slices.Sorted(maps.Keys(labels))
	for _, k := range keys {
		out = append(out, "LABEL "+k+"="+strconv.Quote(labels[k]))
	}
	return out
}

// runStep applies s onto image and commits the result as ref with labels:
// a RUN runs as root in a container of the build (its output to log), and
// an exit other than 0 is the step's failure. The container is removed.
func (e *buildEnv) runStep(ctx context.Context, image, ref string, s step, labels map[string]string, log io.Writer) (string, error) {
	res, err := e.d.eng.ImageInspect(ctx, image)
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", image, err)
	}
	id, err := e.container(ctx, image, res.Config)
	if err != nil {
		return "", err
	}
	defer e.remove(id)
	if s.Argv != nil {
		if _, err := e.d.eng.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			return "", fmt.Errorf("starting the build container: %w", err)
		}
		code, err := e.d.execIn(ctx, id, backend.ExecSpec{Cmd: s.Argv, Env: e.proxyEnv(), User: "0:0", Stdout: log, Stderr: log})
		if err != nil {
			return "", err
		}
		if code != 0 {
			return "", &lineError{code: code}
		}
		timeout := 0
		if _, err := e.d.eng.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			return "", fmt.Errorf("stopping the build container: %w", err)
		}
	}
	c, err := e.d.eng.ContainerCommit(ctx, id, client.ContainerCommitOptions{
		Reference: ref,
		Comment:   "bot-bottle capability build of " + e.b.Slug,
		Changes:   commitChanges(res.Config, s.Changes, labels),
		Config:    commitConfig(res.Config, labels),
	})
	if err != nil {
		return "", fmt.Errorf("committing the build: %w", err)
	}
	return c.ID, nil
}

// lineError is an approved line that ran and failed.
type lineError struct{ code int }

func (e *lineError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// logSize is how far the build proxy's log goes now.
func (e *buildEnv) logSize() int64 {
	fi, err := os.Stat(e.egressLog)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// refusals are the build proxy's refusals logged after offset, one line
// each, for a person: what was asked, the code and the reason (the log
// never holds a token or a query string).
func (e *buildEnv) refusals(offset int64) []string {
	f, err := os.Open(e.egressLog)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ln struct {
			Decision, Code, Reason, Method, Scheme, Host, Path string
			Port                                               int
		}
		if json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &ln) != nil || ln.Decision != "refuse" {
			continue
		}
		what := fmt.Sprintf("%s %s://%s:%d%s", ln.Method, ln.Scheme, ln.Host, ln.Port, ln.Path)
		if ln.Method == "CONNECT" {
			what = fmt.Sprintf("CONNECT %s:%d", ln.Host, ln.Port)
		}
		out = append(out, fmt.Sprintf("the build proxy refused %s (%s): %s", what, ln.Code, ln.Reason))
	}
	return out
}
