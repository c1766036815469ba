package lifecycle

import (
	"context"
	"os"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/provider"
)

// runBackend launches nothing and runs every command with code.
type runBackend struct {
	backend.Backend
	code        int
	stop        func() // runs during the agent's command (nil: none)
	removed     int
	imagesGone  []bool // each RemoveImages call's committed
	removeFails error
	launchErr   error
}

func (r *runBackend) Name() string { return "fake" }
func (r *runBackend) Launch(_ context.Context, b plan.Bottle, _ backend.LaunchOptions) (backend.Bottle, error) {
	return backend.Bottle{Slug: b.Slug}, r.launchErr
}
func (r *runBackend) Exec(context.Context, string, backend.ExecSpec) (int, error) {
	if r.stop != nil {
		r.stop()
	}
	return r.code, nil
}
func (r *runBackend) Remove(context.Context, string) error { r.removed++; return r.removeFails }
func (r *runBackend) RemoveImages(_ context.Context, _ string, committed bool) ([]string, error) {
	r.imagesGone = append(r.imagesGone, committed)
	return nil, nil
}

// TestStartRmDiscards: start --rm removes containers, the bottle's images
// (commits included) and its state however the agent ends, a stop during
// the run included; without --rm the state stays.
func TestStartRmDiscards(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int
		stopped bool
	}{{"agent ok", 0, false}, {"agent failed", 3, false}, {"stopped", 0, true}} {
		p := testPlan(t)
		be := &runBackend{code: tc.code}
		if tc.stopped {
			be.stop = func() { MarkStopped(p.StateDir) }
		}
		code, err := Start(context.Background(), p, StartOptions{Backend: be, Provision: provider.Provision{Command: []string{"true"}}, Discard: true})
		if err != nil || code != tc.code {
			t.Fatalf("%s: %d %v", tc.name, code, err)
		}
		if _, err := os.Stat(p.StateDir); !os.IsNotExist(err) {
			t.Errorf("%s: the state directory is left (%v)", tc.name, err)
		}
		if be.removed != 1 || len(be.imagesGone) != 1 || !be.imagesGone[0] {
			t.Errorf("%s: Remove called %d times, RemoveImages %v; want once each, commits included", tc.name, be.removed, be.imagesGone)
		}
	}
	// A launch that fails (a missing base image) leaves nothing either.
	p := testPlan(t)
	if _, err := Start(context.Background(), p, StartOptions{Backend: &runBackend{launchErr: os.ErrNotExist}, Discard: true}); err == nil {
		t.Fatal("a failed launch succeeded")
	}
	if _, err := os.Stat(p.StateDir); !os.IsNotExist(err) {
		t.Errorf("a failed launch left the state of a --rm start (%v)", err)
	}
	p = testPlan(t)
	be := &runBackend{}
	if _, err := Start(context.Background(), p, StartOptions{Backend: be, Provision: provider.Provision{Command: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.StateDir); err != nil || len(be.imagesGone) != 0 {
		t.Errorf("without --rm: state %v, images removed %v; want the state kept, no image removed", err, be.imagesGone)
	}
}

// TestRemoveKeepsStateWhileContainersStay: when the engine fails to remove
// the containers, the state stays, so a second rm or cleanup finds them.
func TestRemoveKeepsStateWhileContainersStay(t *testing.T) {
	p := testPlan(t)
	if err := os.MkdirAll(p.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	be := &runBackend{removeFails: os.ErrPermission}
	got, err := Remove(context.Background(), be, p.Slug, p.StateDir, true)
	if err == nil || got.State {
		t.Errorf("Remove = %+v, %v; want the engine's error and the state kept", got, err)
	}
	if _, err := os.Stat(p.StateDir); err != nil {
		t.Errorf("the state went while the containers stayed: %v", err)
	}
}
