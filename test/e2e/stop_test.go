package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// lockedBuffer is a buffer the start goroutine writes while the test
// reads it.
type lockedBuffer = testenv.LockedBuffer

// TestStopThenCommitAttached: a bottle started the default way (attached,
// no --keep) and ended by "bot-bottle stop" keeps its agent container, so
// "commit" snapshots it and a resume from that image has the agent's
// file; the start says no false warning about the workspace stop saved.
func TestStopThenCommitAttached(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	src := userRepo(t)
	p := harness.RealPlan(t, home)
	harness.OnlyDaemons(p, plan.DaemonDNS)
	t.Cleanup(func() { e.be.Remove(context.Background(), p.Slug) })

	var out, progress lockedBuffer
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		o := lifecycle.StartOptions{
			Backend: e.be, Provision: shellProvision(t, true, "cd /workspace && echo agent-work > work.txt && touch /tmp/ready && sleep 600"),
			Session:   lifecycle.Session{Stdout: &out, Stderr: &out},
			Progress:  &progress,
			Workspace: &lifecycle.Workspace{Source: src},
		}
		o.Launch.UID, o.Launch.GID = os.Getuid(), os.Getgid()
		_, err := lifecycle.Start(ctx, p, o)
		done <- err
	}()
	waitReady(t, e.be, p.Slug, &progress)

	rc, stdout, stderr := cliRun(t, e, home, "stop", p.Slug)
	if rc != 0 || strings.Contains(stderr, "warning") {
		t.Fatalf("stop: exit %d %s%s", rc, stdout, stderr)
	}
	select {
	case <-done: // the agent's exec ends with its container, error or not
	case <-time.After(3 * time.Minute):
		t.Fatalf("start did not return after stop:\n%s", progress.String())
	}
	if strings.Contains(progress.String(), "removing bottle") || strings.Contains(out.String(), "warning: keeping the workspace") {
		t.Errorf("the attached start undid the stop:\n%s\n%s", progress.String(), out.String())
	}

	rc, stdout, stderr = cliRun(t, e, home, "commit", p.Slug)
	if rc != 0 {
		t.Fatalf("commit after stop: exit %d %s%s\nstart said:\n%s", rc, stdout, stderr, progress.String())
	}
	committed := strings.TrimSpace(stdout)
	t.Cleanup(func() { e.eng.ImageRemove(context.Background(), committed, client.ImageRemoveOptions{Force: true}) })
	if err := e.be.Remove(context.Background(), p.Slug); err != nil {
		t.Fatal(err)
	}
	code, got, prog := startShell(t, e, replan(t, home, p.Slug), "cat /workspace/work.txt", lifecycle.StartOptions{Launch: backend.LaunchOptions{AgentImage: committed}})
	if code != 0 || !strings.Contains(got, "agent-work") {
		t.Errorf("resume from the commit: exit %d %q\n%s", code, got, prog)
	}
}

// waitReady waits until the agent of slug has touched /tmp/ready.
func waitReady(t *testing.T, be backend.Backend, slug string, progress *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var sink strings.Builder
		code, err := be.Exec(context.Background(), slug, backend.ExecSpec{Cmd: []string{"test", "-f", "/tmp/ready"}, Stdout: &sink, Stderr: &sink})
		if err == nil && code == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the agent of %s never got ready:\n%s", slug, progress.String())
}
