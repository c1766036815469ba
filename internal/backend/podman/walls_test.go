package podman_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/attest"
	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/backendtest"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman/podmantest"
	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/provider"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// walls is the walls e2e setup on Podman: the real bot-bottle binary as
// the sidecar, on a rootful CNI `podman system service`.
type walls struct {
	be  *podman.Podman
	eng *client.Client
	bin string
	svc *podmantest.Service
}

func setupWalls(t *testing.T) walls {
	t.Helper()
	w, _ := setupWallsService(t)
	return w
}

// setupWallsService is setupWalls, with the service it runs on.
func setupWallsService(t *testing.T) (walls, *podmantest.Service) {
	t.Helper()
	svc := podmantest.Start(t, "cni")
	dk := harness.Engine(t)
	eng := svc.Client(t)
	bin := harness.BuildStatic(t, "./cmd/bot-bottle")
	return walls{eng: eng, bin: bin, svc: svc, be: podman.New(eng, podman.InfoFrom(svc.Host), docker.Options{
		Base:          svc.Image(t, dk, harness.Base(t, dk)),
		SidecarBase:   svc.Image(t, dk, harness.SidecarBase(t, dk)),
		SidecarBinary: bin,
	})}, svc
}

// allowedHost is the attestation bottle's one route; it never resolves.
const allowedHost = "allowed.attest.invalid"

// wallsPlan plans the shell agent in a bottle with one route and a secret
// (API_TOKEN, a token_ref) only the sidecar may hold.
func wallsPlan(t *testing.T) *plan.Bottle {
	t.Helper()
	home := t.TempDir()
	files := map[string]string{
		"bottles/walls.md": "---\negress:\n  routes:\n    - host: " + allowedHost + "\n      auth:\n        token_ref: API_TOKEN\n---\n",
		"agents/walls.md":  "---\nbottle: walls\n---\nA shell for the Podman walls tests.\n",
	}
	for name, body := range files {
		path := filepath.Join(home, ".bot-bottle", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := manifest.Load(home, home).Resolve("walls", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(plan.Input{Resolved: res, Rand: rand.Reader, EnvSet: map[string]bool{"API_TOKEN": true}, StateRoot: filepath.Join(home, ".bot-bottle", "state")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// secret is API_TOKEN's value on the host: only the sidecar gets it.
const secret = "sk-podman-walls-secret-0123456789"

func secretEnv(k string) string {
	if k == "API_TOKEN" {
		return secret
	}
	return ""
}

func makeCA(dir string) ([]byte, error) {
	c, err := ca.LoadOrCreate(dir)
	if err != nil {
		return nil, err
	}
	return c.CertPEM(), nil
}

// hostTargets are the host's non-loopback addresses with port.
func hostTargets(t *testing.T, port string) []string {
	var out []string
	for _, a := range backendtest.HostAddrs(t) {
		if !strings.HasPrefix(a, "127.") {
			out = append(out, net.JoinHostPort(a, port))
		}
	}
	return out
}

// start runs the shell agent's one-shot mode as start does, with start's
// attestation (a host listener on 0.0.0.0 among its targets); before runs
// just before the probes.
func (w walls) start(t *testing.T, p *plan.Bottle, before func(slug string)) (int, string, error) {
	t.Helper()
	listener := harness.HostListener(t)
	t.Cleanup(func() { w.be.Remove(context.Background(), p.Slug) })
	spec, _ := provider.Builtin(provider.Shell)
	prov, err := spec.Provision(provider.Input{Headless: true, Prompt: "echo agent-ran", CAFile: plan.AgentCADir + "/ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	var out, progress bytes.Buffer
	code, err := lifecycle.Start(context.Background(), p, lifecycle.StartOptions{
		Backend:   w.be,
		Provision: prov,
		Launch:    backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid(), Getenv: secretEnv},
		Session:   lifecycle.Session{Stdout: &out, Stderr: &out},
		Progress:  &progress,
		MakeCA:    makeCA,
		Attest: func(ctx context.Context, b backend.Bottle) error {
			if before != nil {
				before(b.Slug)
			}
			_, err := attest.BeforeAgent(ctx, w.be, b.Slug, attest.Options{
				Binary: w.bin, Phase: "start", LogsDir: filepath.Join(p.StateDir, "logs"),
				ExtraTCP: hostTargets(t, listener),
			})
			return err
		},
	})
	if err != nil {
		t.Logf("progress:\n%s", progress.String())
	}
	return code, out.String(), err
}

// TestWallsAttestationSealed: start's attestation (host addresses and a
// host listener on 0.0.0.0, gateways, DNS, IPv6, the proxy) finds every
// probe closed on Podman and the agent runs.
func TestWallsAttestationSealed(t *testing.T) {
	w := setupWalls(t)
	sealedStart(t, w, wallsPlan(t))
}

// sealedStart starts p with start's attestation and checks that every
// probe stayed closed and the agent ran.
func sealedStart(t *testing.T, w walls, p *plan.Bottle) {
	t.Helper()
	code, out, err := w.start(t, p, nil)
	if err != nil {
		t.Fatalf("start refused a Podman bottle: %v", err)
	}
	if code != 0 || out != "agent-ran\n" {
		t.Errorf("agent: exit %d, output %q", code, out)
	}
	data, err := os.ReadFile(filepath.Join(p.StateDir, "logs", attest.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n < 30 || bytes.Contains(data, []byte(`"leaked":true`)) {
		t.Errorf("attest log: %d lines, want 30+ and none leaked:\n%s", n, data)
	}
	for _, k := range []string{"tcp", "udp", "dns", "ipv6-addresses", "doh", "connect", "host-sni"} {
		if !bytes.Contains(data, []byte(`"kind":"`+k+`"`)) {
			t.Errorf("no %s probe in the log", k)
		}
	}
}

// TestWallsAttestationRefusesAHole: the positive control. The agent also
// on an ordinary (not internal) Podman network, whose bridge holds a host
// address: attestation reports the leak and the agent never runs.
func TestWallsAttestationRefusesAHole(t *testing.T) {
	w := setupWalls(t)
	ctx := context.Background()
	name := "bot-bottle-a-hole-" + strings.TrimPrefix(harness.Slug("x"), "x-")
	res, err := w.eng.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.eng.NetworkRemove(context.Background(), res.ID, client.NetworkRemoveOptions{}) })
	p := wallsPlan(t)
	code, out, err := w.start(t, p, func(slug string) {
		if _, err := w.eng.NetworkConnect(ctx, name, client.NetworkConnectOptions{Container: "bot-bottle-" + slug + "-agent"}); err != nil {
			t.Errorf("connecting the hole: %v", err)
		}
	})
	var le *attest.LeakError
	if !errors.As(err, &le) || strings.Contains(out, "agent-ran") {
		t.Fatalf("start with a hole: exit %d, output %q, err %v; want a LeakError and no agent command", code, out, err)
	}
	t.Logf("refused:\n%s", err)
}

// TestWallsRunningBottle: one bottle with the real sidecar, checked
// from inside; see each part.
func TestWallsRunningBottle(t *testing.T) {
	w := setupWalls(t)
	p := wallsPlan(t)
	if err := lifecycle.Prepare(p, makeCA); err != nil {
		t.Fatal(err)
	}
	b := harness.Launch(t, w.be, *p, backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid(), Getenv: secretEnv})
	t.Run("DNSAndSecrets", func(t *testing.T) { dnsAndSecrets(t, w, p, b) })
	t.Run("AgentReachesOnlyTheSidecar", func(t *testing.T) { reachesOnlyTheSidecar(t, w, p) })
}

// dnsAndSecrets: the agent's only resolver is the sidecar (an
// outside name is refused, the aliases resolve to it), and the secret is
// in the sidecar's environment and nowhere in the agent's.
func dnsAndSecrets(t *testing.T, w walls, p *plan.Bottle, b backend.Bottle) {
	sidecarIP, _, _ := strings.Cut(b.Endpoints.DNS, ":")
	r := harness.Sh(t, w.be, p.Slug, "getent hosts exfil-probe.example.com; echo rc=$?; getent hosts egress | cut -d' ' -f1; grep -c nameserver /etc/resolv.conf; grep nameserver /etc/resolv.conf")
	want := "rc=2\n" + sidecarIP + "\n1\nnameserver " + sidecarIP + "\n"
	if r.Stdout != want {
		t.Errorf("agent DNS:\n%s\nwant stdout %q", r, want)
	}
	r = harness.Sh(t, w.be, p.Slug, "env; cat /proc/1/environ /proc/self/environ 2>/dev/null | tr '\\0' '\\n'")
	if strings.Contains(r.Stdout, secret) || strings.Contains(r.Stdout, "API_TOKEN=") {
		t.Errorf("the agent's environment holds the sidecar's secret")
	}
	if got := harness.ExecContainer(t, w.eng, "bot-bottle-"+p.Slug+"-sidecar", "sh", "-c", "tr '\\0' '\\n' </proc/1/environ | grep -c '^API_TOKEN='"); strings.TrimSpace(got) != "1" {
		t.Errorf("the sidecar lacks its secret: %q", got)
	}
}

// reachesOnlyTheSidecar: from the agent, the sidecar
// answers on the internal network; the host (a listener on 0.0.0.0, every
// address), the internal network's would-be gateway, the sidecar's egress
// leg and a neighbour on the egress network do not. The same probes from
// the sidecar reach the host and the neighbour.
func reachesOnlyTheSidecar(t *testing.T, w walls, p *plan.Bottle) {
	hostPort := harness.HostListener(t)
	egressNet := "bot-bottle-" + p.Slug + "-egress"
	bin := harness.BuildStatic(t, "./test/e2e/fixture")
	_, neighbour := harness.RunOn(t, w.eng, harness.Base(t, harness.Engine(t)), egressNet, "fixture", filepath.Dir(bin), "/srv/fixture", "serve", ":8080")

	res, err := w.eng.ContainerInspect(context.Background(), "bot-bottle-"+p.Slug+"-sidecar", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nets := res.Container.NetworkSettings.Networks
	in, eg := nets["bot-bottle-"+p.Slug+"-internal"], nets[egressNet]
	if in == nil || eg == nil {
		t.Fatalf("sidecar networks: %v", nets)
	}
	if open := backendtest.Probe(t, w.be, p.Slug, []string{"egress:9099", in.IPAddress.String() + ":9099"}); len(open) != 2 {
		t.Errorf("the agent cannot reach the sidecar: open %v", open)
	}
	denied := hostTargets(t, hostPort)
	denied = append(denied,
		net.JoinHostPort(gateway(in), hostPort),
		net.JoinHostPort(gateway(eg), hostPort),
		net.JoinHostPort(eg.IPAddress.String(), "9099"),
		neighbour+":8080",
	)
	denied = append(denied, bridgeLinkLocal(t, w, "bot-bottle-"+p.Slug+"-internal", hostPort)...)
	if open := backendtest.Probe(t, w.be, p.Slug, denied); len(open) > 0 {
		t.Errorf("the agent reached %v", open)
	}
	out := harness.ExecContainer(t, w.eng, "bot-bottle-"+p.Slug+"-sidecar", "sh", "-c",
		fmt.Sprintf("timeout 3 bash -c 'exec 3<>/dev/tcp/%s/%s' && echo open-host; timeout 3 bash -c 'exec 3<>/dev/tcp/%s/8080' && echo open-neighbour", gateway(eg), hostPort, neighbour))
	if !strings.Contains(out, "open-host") || !strings.Contains(out, "open-neighbour") {
		t.Errorf("positive control from the sidecar's egress leg failed: %q", out)
	}
	if r := harness.Sh(t, w.be, p.Slug, "cat /proc/net/if_inet6 2>/dev/null | wc -l"); strings.TrimSpace(r.Stdout) != "0" {
		t.Errorf("agent has IPv6 addresses: %s", r)
	}
}

// bridgeLinkLocal are the IPv6 link-local addresses the host holds on
// network's bridge, as the agent would dial them (through its eth0).
func bridgeLinkLocal(t *testing.T, w walls, network, port string) []string {
	t.Helper()
	name := strings.TrimSpace(w.svc.Podman(t, "network", "inspect", "-f", "{{.NetworkInterface}}", network))
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatalf("the bridge of %s: %v", network, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsLinkLocalUnicast() && n.IP.To4() == nil {
			out = append(out, net.JoinHostPort(n.IP.String()+"%eth0", port))
		}
	}
	if len(out) == 0 {
		t.Logf("the bridge %s holds no IPv6 link-local address", name)
	}
	return out
}

// gateway is a network's gateway, else its .1.
func gateway(e *network.EndpointSettings) string {
	if e.Gateway.IsValid() {
		return e.Gateway.String()
	}
	a := e.IPAddress.As4()
	a[3] = a[3]&^15 | 1
	return net.IP(a[:]).String()
}

// TestPodmanIgnoresTheRuntime is why an agent under runsc is created by
// a second service (podman.GVisor): asked for runsc per container, through
// the Docker-compatible API (HostConfig.Runtime) or Podman's own
// (libpod's create, the spec's oci_runtime), Podman records the service's
// default runtime and the container runs on the host's kernel, not
// gVisor's 4.4.0; runsc is registered (containers.conf [engine.runtimes],
// the wrapper). A Podman that applies either fails this test: then the
// second service can go. Without a gVisor service runsc is refused.
func TestPodmanIgnoresTheRuntime(t *testing.T) {
	svc := podmantest.Start(t, "cni")
	eng := svc.Client(t)
	base := svc.Image(t, harness.Engine(t), harness.Base(t, harness.Engine(t)))
	ctx := context.Background()
	host, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	runs := func(api, id string) {
		t.Cleanup(func() { eng.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true}) })
		if _, err := eng.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		recorded, err := podman.RuntimeFrom(svc.Host)(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := harness.ExecContainer(t, eng, id, "uname", "-r"); got != string(host) || recorded != "runc" {
			t.Errorf("asked for runsc through %s, the container runs under %q on kernel %q (the host's is %q): Podman applied the runtime", api, recorded, got, host)
		}
	}
	res, err := eng.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: base, Entrypoint: []string{"sleep", "infinity"}},
		HostConfig: &container.HostConfig{Runtime: "runsc", NetworkMode: "none", Resources: container.Resources{Ulimits: podman.Options(docker.Options{}).Ulimits}},
	})
	if err != nil {
		t.Fatal(err)
	}
	runs("the compatible API", res.ID)
	runs("libpod's create", libpodCreate(t, svc, map[string]any{
		"image": base, "entrypoint": []string{"sleep", "infinity"}, "oci_runtime": "runsc",
		"netns":    map[string]string{"nsmode": "none"},
		"r_limits": []map[string]any{{"type": "nofile", "soft": podman.NoFile, "hard": podman.NoFile}, {"type": "nproc", "soft": podman.NProc, "hard": podman.NProc}},
	}))
	p := podman.New(eng, podman.InfoFrom(svc.Host), docker.Options{})
	if _, err := p.Launch(ctx, plan.Bottle{Slug: "gvisor-12345", Runtime: "runsc"}, launchOptions()); !errors.Is(err, podman.ErrNoGVisor) {
		t.Errorf("launch with runtime runsc and no gVisor service: %v, want ErrNoGVisor", err)
	}
}

// libpodCreate creates a container from spec (a SpecGenerator) through
// Podman's own API and returns its ID.
func libpodCreate(t *testing.T, svc *podmantest.Service, spec map[string]any) string {
	t.Helper()
	body, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", strings.TrimPrefix(svc.Host, "unix://"))
	}}}
	defer c.CloseIdleConnections()
	res, err := c.Post("http://podman/v4.0.0/libpod/containers/create", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		ID      string `json:"Id"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.ID == "" {
		t.Fatalf("libpod create: %s %v %s", res.Status, err, out.Message)
	}
	return out.ID
}

// TestWallsGVisor: the agent under runsc on Podman, created by the gVisor
// service: start's attestation finds every probe closed and the agent
// runs; in a running bottle the agent's kernel is gVisor's (uname 4.4.0,
// gVisor's boot messages in dmesg) while the sidecar stays on the host's,
// Podman and list record runsc, the sidecar is the only DNS, the secret
// only in the sidecar, and the agent reaches nothing but the sidecar.
func TestWallsGVisor(t *testing.T) {
	w, svc := setupWallsService(t)
	svc.AddGVisor(t, w.be)
	t.Run("AttestationSealed", func(t *testing.T) {
		p := wallsPlan(t)
		p.Runtime = "runsc"
		sealedStart(t, w, p)
	})
	p := wallsPlan(t)
	p.Runtime = "runsc"
	if err := lifecycle.Prepare(p, makeCA); err != nil {
		t.Fatal(err)
	}
	b := harness.Launch(t, w.be, *p, backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid(), Getenv: secretEnv})
	t.Run("Kernel", func(t *testing.T) { gvisorKernel(t, w, svc, p) })
	t.Run("DNSAndSecrets", func(t *testing.T) { dnsAndSecrets(t, w, p, b) })
	t.Run("AgentReachesOnlyTheSidecar", func(t *testing.T) { reachesOnlyTheSidecar(t, w, p) })
}

// gvisorKernel: the agent runs on gVisor's kernel, the sidecar on the
// host's, and Podman, the label and list say runsc.
func gvisorKernel(t *testing.T, w walls, svc *podmantest.Service, p *plan.Bottle) {
	host, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	r := harness.Sh(t, w.be, p.Slug, "uname -r; dmesg 2>&1 | head -3")
	if kernel, _, _ := strings.Cut(r.Stdout, "\n"); kernel == strings.TrimSpace(string(host)) || !strings.Contains(r.Stdout, "gVisor") {
		t.Errorf("the agent is not under gVisor (host kernel %q):\n%s", strings.TrimSpace(string(host)), r)
	}
	t.Logf("agent:\n%s", r.Stdout)
	if got := harness.ExecContainer(t, w.eng, "bot-bottle-"+p.Slug+"-sidecar", "cat", "/proc/sys/kernel/osrelease"); got != string(host) {
		t.Errorf("the sidecar's kernel is %q, not the host's: it should stay on the default runtime", got)
	}
	if got, err := podman.RuntimeFrom(svc.Host)(context.Background(), "bot-bottle-"+p.Slug+"-agent"); got != "runsc" {
		t.Errorf("podman records the agent's runtime as %q (%v)", got, err)
	}
	list, err := w.be.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(list, func(s backend.Summary) bool { return s.Slug == p.Slug }); i < 0 || list[i].Runtime != "runsc" {
		t.Errorf("list: %+v, want %s under runsc", list, p.Slug)
	}
}
