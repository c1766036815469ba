// Package backendtest is the conformance suite every Backend must pass:
// launch, exec, list, stop, commit, remove, and the isolation promises that
// do not depend on how a backend implements them.
package backendtest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// Config says how to run the suite on one backend.
type Config struct {
	Backend backend.Backend
	// NewPlan returns a fresh plan for the built-in shell bottle.
	NewPlan func(t *testing.T) plan.Bottle
	Options backend.LaunchOptions
	// RemoveImage deletes an image Commit made (nil: left behind).
	RemoveImage func(ref string)
	// NoCommit: the backend cannot keep a stopped bottle or commit it
	// (Kubernetes: Stop deletes the pod, Commit refuses). StopCommitRemove
	// then checks that Commit refuses, and Stop and Remove.
	NoCommit bool
	// IPv6Filtered: the agent keeps its IPv6 addresses but a packet filter
	// drops every IPv6 packet (Kubernetes: the pod's wall). NoIPv6 then
	// checks that a connection over IPv6 loopback is dropped, not refused.
	IPv6Filtered bool
}

// Run runs the suite.
func Run(t *testing.T, c Config) {
	p := c.NewPlan(t)
	b := harness.Launch(t, c.Backend, p, c.Options)
	be := c.Backend

	t.Run("Exec", func(t *testing.T) {
		r := harness.Sh(t, be, p.Slug, "echo out; echo err >&2; exit 3")
		if r.Stdout != "out\n" || r.Stderr != "err\n" || r.Code != 3 {
			t.Errorf("got %s, want out/err/3", r)
		}
		var out strings.Builder
		code, err := be.Exec(context.Background(), p.Slug, backend.ExecSpec{
			Cmd: []string{"cat"}, Stdin: strings.NewReader("piped\n"), Stdout: &out,
		})
		if err != nil || code != 0 || out.String() != "piped\n" {
			t.Errorf("cat with stdin = %q, %d, %v", out.String(), code, err)
		}
	})

	t.Run("ExecTTY", func(t *testing.T) {
		var out strings.Builder
		resize := make(chan backend.TermSize, 1)
		resize <- backend.TermSize{Rows: 33, Cols: 101}
		close(resize)
		code, err := be.Exec(context.Background(), p.Slug, backend.ExecSpec{
			Cmd: []string{"bash", "--norc", "-i"}, TTY: true, Resize: resize,
			Stdin: strings.NewReader("sleep 1; stty size; test -t 0 && echo on-a-tty; exit 5\n"), Stdout: &out,
		})
		if err != nil || code != 5 || !strings.Contains(out.String(), "33 101") || !strings.Contains(out.String(), "on-a-tty") {
			t.Errorf("interactive exec: code %d, err %v, output %q", code, err, out.String())
		}
	})

	t.Run("NotRoot", func(t *testing.T) {
		r := harness.Sh(t, be, p.Slug, "id -u; grep CapEff /proc/self/status")
		lines := strings.Fields(r.Stdout)
		if r.Code != 0 || len(lines) < 3 || lines[0] == "0" || lines[2] != "0000000000000000" {
			t.Errorf("agent identity: %s", r)
		}
	})

	t.Run("ProxyEnv", func(t *testing.T) {
		r := harness.Sh(t, be, p.Slug, `printf '%s\n' "$HTTPS_PROXY" "$http_proxy" "$NO_PROXY" "$BOT_BOTTLE_E2E"`)
		want := b.Endpoints.ProxyURL + "\n" + b.Endpoints.ProxyURL + "\n" + b.Endpoints.NoProxy + "\n1\n"
		if r.Stdout != want {
			t.Errorf("env:\n%s\nwant:\n%s", r.Stdout, want)
		}
	})

	t.Run("HostListenerUnreachable", func(t *testing.T) {
		port := harness.HostListener(t)
		var targets []string
		for _, a := range HostAddrs(t) {
			targets = append(targets, net.JoinHostPort(a, port))
		}
		open := Probe(t, be, p.Slug, targets)
		if len(open) > 0 {
			t.Errorf("the agent reached a host listener on 0.0.0.0 at %v", open)
		}
	})

	// A dual-stack host listener would be reachable over a bridge's
	// link-local address: the agent has no IPv6 address at all.
	t.Run("NoIPv6", func(t *testing.T) {
		if c.IPv6Filtered {
			// Nothing listens on [::1]:9100: unfiltered, curl is refused
			// at once (exit 7); dropped, it times out (exit 28).
			if r := harness.Sh(t, be, p.Slug, "curl --noproxy '*' -g -sS --max-time 3 -o /dev/null http://[::1]:9100/; echo rc=$?"); !strings.Contains(r.Stdout, "rc=28") {
				t.Errorf("IPv6 from the agent is not dropped: %s (stdout %q, stderr %q)", r, r.Stdout, r.Stderr)
			}
			return
		}
		if r := harness.Sh(t, be, p.Slug, "cat /proc/net/if_inet6 2>/dev/null | wc -l"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "0" {
			t.Errorf("the agent has IPv6 addresses: %s", r)
		}
	})

	t.Run("List", func(t *testing.T) {
		s := find(t, be, p.Slug)
		if s.State != "running" || s.Agent != p.Agent.Name || s.Label != p.Label {
			t.Errorf("summary = %+v", s)
		}
	})

	t.Run("StopCommitRemove", func(t *testing.T) {
		ctx := context.Background()
		harness.Sh(t, be, p.Slug, "echo kept > $HOME/kept")
		if c.NoCommit {
			if ref, err := be.Commit(ctx, p.Slug, ""); err == nil {
				t.Errorf("Commit = %q, want a refusal", ref)
			}
		}
		if err := be.Stop(ctx, p.Slug); err != nil {
			t.Fatal(err)
		}
		if c.NoCommit {
			removeAndGone(t, be, p.Slug)
			return
		}
		if s := find(t, be, p.Slug); s.State != "exited" {
			t.Errorf("after Stop state = %q, want exited", s.State)
		}
		ref, err := be.Commit(ctx, p.Slug, "")
		if err != nil || ref == "" {
			t.Fatalf("Commit = %q, %v", ref, err)
		}
		if c.RemoveImage != nil {
			t.Cleanup(func() { c.RemoveImage(ref) })
		}
		removeAndGone(t, be, p.Slug)

		// The committed image keeps what the agent wrote.
		q := c.NewPlan(t)
		opts := c.Options
		opts.AgentImage = ref
		harness.Launch(t, be, q, opts)
		if r := harness.Sh(t, be, q.Slug, "cat $HOME/kept"); r.Stdout != "kept\n" {
			t.Errorf("file written before commit: %s", r)
		}
	})
}

// removeAndGone removes slug twice (the second is no error) and checks it
// is neither listed nor reachable by Exec.
func removeAndGone(t *testing.T, be backend.Backend, slug string) {
	t.Helper()
	ctx := context.Background()
	if err := be.Remove(ctx, slug); err != nil {
		t.Fatal(err)
	}
	if err := be.Remove(ctx, slug); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	list, err := be.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(list, func(s backend.Summary) bool { return s.Slug == slug }) {
		t.Errorf("%s still listed after Remove", slug)
	}
	if _, err := be.Exec(ctx, slug, backend.ExecSpec{Cmd: []string{"true"}}); err == nil {
		t.Error("Exec after Remove succeeded")
	}
}

func find(t *testing.T, be backend.Backend, slug string) backend.Summary {
	t.Helper()
	list, err := be.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Slug == slug {
			return s
		}
	}
	t.Fatalf("%s not in List: %+v", slug, list)
	return backend.Summary{}
}

// HostAddrs are the host's IPv4 addresses, loopback included.
func HostAddrs(t testing.TB) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, n.IP.String())
		}
	}
	return out
}

// Probe tries a TCP connection from the agent to each host:port target (in
// parallel, 3 s each) and returns those that opened.
func Probe(t testing.TB, be backend.Backend, slug string, targets []string) []string {
	t.Helper()
	var script strings.Builder
	for _, tg := range targets {
		host, port, err := net.SplitHostPort(tg)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&script, "(timeout 3 bash -c 'exec 3<>/dev/tcp/%s/%s' 2>/dev/null && echo open %s) &\n", host, port, tg)
	}
	script.WriteString("wait\n")
	start := time.Now()
	r := harness.Sh(t, be, slug, script.String())
	t.Logf("probed %d targets in %s", len(targets), time.Since(start).Round(time.Millisecond))
	var open []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		if tg, ok := strings.CutPrefix(line, "open "); ok {
			open = append(open, tg)
		}
	}
	return open
}
