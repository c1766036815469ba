// Package harness is what the Docker tests share: an engine (or a skip), the
// seeded base image, static binaries built from this repository, a minimal
// shell-bottle plan and helpers to run commands in a bottle.
package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/images"
	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// Engine returns a client for the local engine, or skips t (fails it under
// BOT_BOTTLE_REQUIRE_ALL=1) when none answers.
func Engine(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.FromEnv)
	if err != nil {
		testenv.Require(t, "docker", false, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		c.Close()
		testenv.Require(t, "docker", false, "no engine answers at "+c.DaemonHost()+": "+err.Error())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Base makes sure the seeded base image exists, running
// scripts/seed-base-image.sh when it does not (that needs root and
// debootstrap), and returns its tag.
func Base(t testing.TB, eng *client.Client) string {
	t.Helper()
	return seed(t, eng, images.DefaultBase)
}

// SidecarBase is Base for the sidecar's own smaller base
// (scripts/seed-base-image.sh --sidecar).
func SidecarBase(t testing.TB, eng *client.Client) string {
	t.Helper()
	return seed(t, eng, images.SidecarBase, "--sidecar")
}

// Seeded is Base for a test image of its own: seed-base-image.sh with args
// (--extra packages), tagged tag.
func Seeded(t testing.TB, eng *client.Client, tag string, args ...string) string {
	t.Helper()
	return seed(t, eng, tag, args...)
}

func seed(t testing.TB, eng *client.Client, tag string, args ...string) string {
	t.Helper()
	defer seedLock(t)()
	if _, err := eng.ImageInspect(context.Background(), tag); err == nil {
		return tag
	}
	script := strings.Join(append([]string{"scripts/seed-base-image.sh"}, args...), " ")
	_, lookErr := exec.LookPath("debootstrap")
	testenv.Require(t, "debootstrap", lookErr == nil && os.Geteuid() == 0,
		tag+" is missing and seeding it needs root and debootstrap: run "+script)
	cmd := exec.Command(filepath.Join(RepoRoot(t), "scripts", "seed-base-image.sh"), append(args, "--tag", tag)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("seeding %s: %v\n%s", tag, err, out)
	}
	return tag
}

// seedLock serialises seeding across test binaries (go test runs packages
// in parallel, and two debootstraps would share one package cache). It
// returns the unlock.
func seedLock(t testing.TB) func() {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "bot-bottle-seed.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// RepoRoot is the repository's top directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// BuildStatic builds the main package pkg (relative to the repository,
// e.g. "./cmd/bot-bottle") as a static binary and returns its path.
func BuildStatic(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Slug returns a fresh slug for agent name: name, a dash, five random
// lower-case letters or digits.
func Slug(name string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 5)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return name + "-" + string(b)
}

// ShellPlan is a minimal plan for the built-in shell bottle with its state
// in a temporary directory.
func ShellPlan(t testing.TB) plan.Bottle {
	t.Helper()
	slug := Slug("e2e")
	state := filepath.Join(t.TempDir(), "state", slug)
	return plan.Bottle{
		Slug:     slug,
		Label:    "e2e " + t.Name(),
		Agent:    plan.Agent{Name: "e2e"},
		Provider: plan.Provider{Template: "shell"},
		AgentEnv: map[string]string{"BOT_BOTTLE_E2E": "1"},
		Mounts: []plan.Mount{
			{Container: "sidecar", Source: filepath.Join(state, "logs"), Target: plan.SidecarLogsDir},
			{Container: "agent", Source: filepath.Join(state, "supervise", "current-config"), Target: plan.AgentConfigDir, ReadOnly: true},
		},
		StateDir: state,
	}
}

// Launch launches p on b and removes it when t ends.
func Launch(t testing.TB, b backend.Backend, p plan.Bottle, opts backend.LaunchOptions) backend.Bottle {
	t.Helper()
	var progress bytes.Buffer
	if opts.Progress == nil {
		opts.Progress = &progress
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.Remove(ctx, p.Slug); err != nil {
			t.Errorf("removing %s: %v", p.Slug, err)
		}
	})
	bottle, err := b.Launch(ctx, p, opts)
	if err != nil {
		t.Fatalf("launching %s: %v\nprogress:\n%s", p.Slug, err, progress.String())
	}
	return bottle
}

// Result is what a command in the agent did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Sh runs script with sh -c in the agent of slug.
func Sh(t testing.TB, b backend.Backend, slug, script string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	code, err := b.Exec(ctx, slug, backend.ExecSpec{Cmd: []string{"sh", "-c", script}, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("exec in %s: %v", slug, err)
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// HostListener listens on 0.0.0.0 on the host (every address, as a
// careless local service does) until t ends, and returns its port.
func HostListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("host\n"))
			c.Close()
		}
	}()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// RealPlan plans the built-in shell agent in the built-in bottle the way
// start does on a fresh machine, with state under home/.bot-bottle/state.
func RealPlan(t testing.TB, home string) *plan.Bottle {
	t.Helper()
	fresh := t.TempDir() // no ~/.bot-bottle: the built-ins apply
	res, err := manifest.Load(fresh, fresh).Resolve(manifest.BuiltinAgent, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(plan.Input{Resolved: res, Rand: rand.Reader, StateRoot: filepath.Join(home, ".bot-bottle", "state")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// OnlyDaemons narrows the sidecar of p to daemons.
func OnlyDaemons(p *plan.Bottle, daemons ...string) {
	p.Sidecar.Daemons = daemons
	p.SidecarEnv["BOT_BOTTLE_SIDECAR_DAEMONS"] = strings.Join(daemons, ",")
}

// ExecContainer runs cmd in container id (any container, not only an
// agent) and returns stdout and stderr together.
func ExecContainer(t testing.TB, eng *client.Client, id string, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	ex, err := eng.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	att, err := eng.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer att.Close()
	var out strings.Builder
	stdcopy.StdCopy(&out, &out, att.Reader)
	return out.String()
}

// OrdinaryUser returns the uid and gid a sidecar should run as in a test:
// the test's own, or 1000:1000 when the test runs as root (the state under
// stateDir is then handed to 1000), so the sidecar runs unprivileged as it
// does on a laptop.
func OrdinaryUser(t testing.TB, stateDir string) (int, int) {
	t.Helper()
	if os.Getuid() != 0 {
		return os.Getuid(), os.Getgid()
	}
	if out, err := exec.Command("chown", "-R", "1000:1000", stateDir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	return 1000, 1000
}
