// Package podmantest starts a real Podman API service for a test: its own
// socket and configuration under a temporary directory, the machine's
// image store, stopped when the test ends. The tests that need it run in
// their own stage (scripts/test.d/60-podman.sh sets EnvRun), not in the
// main suite; there they fail when Podman is missing under
// BOT_BOTTLE_REQUIRE_ALL=1, and skip otherwise.
package podmantest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend/podman"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// RunscWrapper is where scripts/ci-setup.d/60-podman.sh installs runsc as
// Podman runs it: the spec's network sysctls applied (the agent's IPv6
// off), then the wrapper that passes runsc's root-netns check
// (docs/runtimes.md).
const RunscWrapper = "/usr/local/lib/bot-bottle/runsc-podman"

// Config is the containers.conf the service runs with: the settings the
// Podman backend needs (docs/runtimes.md), and runsc as the wrapper.
// Network is the network backend ("cni" seals the agent's network;
// "netavark" is Podman 4's default and does not).
func Config(network, cniDir string) string {
	return fmt.Sprintf(`[containers]
default_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[engine.runtimes]
runsc = [%q]
[network]
network_backend = %q
network_config_dir = %q
`, podman.NoFile, podman.NoFile, podman.NProc, podman.NProc, RunscWrapper, network, cniDir)
}

// EnvRun, set to 1, runs the tests that start a Podman service.
const EnvRun = "BOT_BOTTLE_PODMAN"

// Service is a running `podman system service`.
type Service struct {
	// Host is its socket (unix:///...).
	Host string
	// Env is the environment podman commands for this service take
	// (CONTAINERS_CONF).
	Env []string
	// dir holds its configuration, networks and log.
	dir string
}

// Start runs a rootful `podman system service` with the network backend
// network until t ends.
func Start(t testing.TB, network string) *Service {
	t.Helper()
	require(t)
	testenv.Require(t, "podman", os.Geteuid() == 0, "the Podman tests run rootful podman: they need root")
	dir := t.TempDir()
	return start(t, dir, filepath.Join(dir, "podman.sock"), network, nil)
}

// RootlessUser is the user scripts/ci-setup.d/60-podman.sh creates for
// rootless Podman.
const RootlessUser = "bot-bottle-podman"

// StartRootless runs `podman system service` as RootlessUser (the test
// runs as root) with the network backend network until t ends.
func StartRootless(t testing.TB, network string) *Service {
	t.Helper()
	require(t)
	testenv.Require(t, "podman", os.Geteuid() == 0, "the rootless Podman test starts podman as another user: it needs root")
	u, err := user.Lookup(RootlessUser)
	testenv.Require(t, "podman", err == nil, "no user "+RootlessUser+" (scripts/ci-setup.d/60-podman.sh)")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// Outside t.TempDir, whose 0700 parent the user cannot enter.
	dir, err := os.MkdirTemp("", "bot-bottle-podman-")
	if err != nil {
		t.Fatal(err)
	}
	// The runtime directory is the usual one, the same every run: rootless
	// Podman records it in its database at first use.
	run := filepath.Join("/run/user", u.Uid)
	t.Cleanup(func() {
		// Rootless Podman leaves its user-namespace holder (catatonit -P)
		// running after the service ends.
		if b, err := os.ReadFile(filepath.Join(run, "libpod", "tmp", "pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/user", 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(run, "podman", "podman.sock")
	os.Remove(sock) // a run that died left it: it would pass for the new service's
	for _, d := range []string{run, filepath.Join(run, "podman"), filepath.Join(dir, "networks")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return start(t, dir, sock, network, []string{"runuser", "-u", RootlessUser, "--", "env", "XDG_RUNTIME_DIR=" + run, "HOME=" + u.HomeDir})
}

func require(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvRun) != "1" {
		t.Skipf("the Podman engine tests run in scripts/test.d/60-podman.sh (%s=1)", EnvRun)
	}
	_, err := exec.LookPath("podman")
	testenv.Require(t, "podman", err == nil, "podman is not installed (scripts/ci-setup.d/60-podman.sh)")
}

// start runs the service with its files in dir and its socket at sock,
// its command line after prefix (how to become its user).
func start(t testing.TB, dir, sock, network string, prefix []string) *Service {
	t.Helper()
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte(Config(network, filepath.Join(dir, "networks"))), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Service{Host: "unix://" + sock, Env: []string{"CONTAINERS_CONF=" + conf}, dir: dir}
	s.serve(t, "service.log", prefix, nil)
	return s
}

// GVisor runs a second rootful service on s's configuration and store
// whose default runtime is runsc (the wrapper), until t ends: the one
// podman.GVisor creates agents with. It needs runsc and the wrapper
// (scripts/ci-setup.d/50-runsc.sh, 60-podman.sh).
func (s *Service) GVisor(t testing.TB) *Service {
	t.Helper()
	_, err := os.Stat(RunscWrapper)
	testenv.Require(t, "runsc", err == nil, "the runsc wrapper "+RunscWrapper+" is not installed (scripts/ci-setup.d/50-runsc.sh, 60-podman.sh)")
	g := &Service{Host: "unix://" + filepath.Join(s.dir, "podman-runsc.sock"), Env: s.Env, dir: s.dir}
	g.serve(t, "service-runsc.log", nil, []string{"--runtime", "runsc"})
	return g
}

// AddGVisor starts s's gVisor service (GVisor) and gives it to p, a
// backend on s, for its agents under runsc.
func (s *Service) AddGVisor(t testing.TB, p *podman.Podman) {
	t.Helper()
	g := s.GVisor(t)
	p.WithGVisor(podman.GVisor{Engine: g.Client(t), Info: podman.InfoFrom(g.Host)})
}

// serve runs `podman GLOBAL... system service` on s's socket, logging to
// dir/logName, after prefix.
func (s *Service) serve(t testing.TB, logName string, prefix, global []string) {
	t.Helper()
	args := append(append([]string{}, prefix...), s.Env...)
	args = append(args, "podman")
	args = append(args, global...)
	args = append(args, "system", "service", "--time=0", s.Host)
	cmd := exec.Command(args[0], args[1:]...)
	if prefix == nil {
		cmd = exec.Command("env", args...)
	}
	cmd.Env = os.Environ()
	log, err := os.Create(filepath.Join(s.dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting podman system service: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		log.Close()
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(strings.TrimPrefix(s.Host, "unix://")); err == nil {
			break
		}
		select {
		case <-done:
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("podman system service ended (%s): %s", strings.Join(args, " "), out)
		case <-time.After(100 * time.Millisecond):
		}
		if i > 300 {
			t.Fatal("podman system service made no socket in 30 s")
		}
	}
}

// Client is a moby client on the service, closed when t ends.
func (s *Service) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := podman.Connect(context.Background(), s.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Podman runs the podman command (as root) against the service's
// configuration and returns its output: for a rootful service.
func (s *Service) Podman(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("podman", args...)
	cmd.Env = append(os.Environ(), s.Env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Image (for a rootful service) makes sure Podman's store has the Docker engine's image (seeded
// there by harness.Base): copied when Podman lacks it or has another one
// under that name (the image ID is the config's digest on both engines).
func (s *Service) Image(t testing.TB, docker *client.Client, image string) string {
	t.Helper()
	want, err := docker.ImageInspect(context.Background(), image)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Client(t).ImageInspect(context.Background(), image); err == nil && got.ID == want.ID {
		return image
	}
	cmd := exec.Command("sh", "-c", `docker save "$1" | podman load -q`, "sh", image)
	cmd.Env = append(os.Environ(), s.Env...)
	if docker != nil {
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+docker.DaemonHost())
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copying %s from Docker to Podman: %v\n%s", image, err, out)
	}
	return image
}
