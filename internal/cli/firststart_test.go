package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFirstStartOverlapsBuildAndSeeding: on a new machine the static
// sidecar build and the seeding of the missing bases run at the same time
// (the build here finishes only once seeding has begun, and seeding only
// once the build has begun), so a cold start costs the longer of the two,
// not their sum.
func TestFirstStartOverlapsBuildAndSeeding(t *testing.T) {
	buildBegan, seedBegan := make(chan struct{}), make(chan struct{})
	var seeds atomic.Int32
	seed := func(_ context.Context, _ Env, _ string, _ bool, _ io.Writer) error {
		if seeds.Add(1) == 1 {
			close(seedBegan)
		}
		return waitFor(buildBegan, "the static build")
	}
	build := func() (Env, error) {
		close(buildBegan)
		return Env{Cwd: "built"}, waitFor(seedBegan, "the seeding")
	}
	var stderr bytes.Buffer
	env := Env{Stderr: &stderr, Getenv: func(string) string { return "" }}
	got, err := overlap(context.Background(), env, build, func() ([]string, error) { return []string{"bot-bottle/base:bookworm"}, nil }, seed)
	if err != nil || got.Cwd != "built" || seeds.Load() != 2 {
		t.Fatalf("err=%v env=%q seeds=%d; want the built env and both bases seeded beside the build", err, got.Cwd, seeds.Load())
	}
	if !strings.Contains(stderr.String(), "lacks the base image(s) bot-bottle/base:bookworm") {
		t.Errorf("stderr does not say which base is missing:\n%s", stderr.String())
	}
}

// TestFirstStartSeedsOnlyWhatIsMissing: nothing missing, or no way to
// tell, seeds nothing (the start itself reports an engine it cannot
// reach); a failing build or seed is returned.
func TestFirstStartSeedsOnlyWhatIsMissing(t *testing.T) {
	env := Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}
	var seeds atomic.Int32
	seed := func(context.Context, Env, string, bool, io.Writer) error { seeds.Add(1); return nil }
	ok := func() (Env, error) { return env, nil }
	for _, missing := range []func() ([]string, error){
		func() ([]string, error) { return nil, nil },
		func() ([]string, error) { return nil, errors.New("no engine") },
	} {
		if _, err := overlap(context.Background(), env, ok, missing, seed); err != nil || seeds.Load() != 0 {
			t.Errorf("err=%v seeds=%d; want no seeding", err, seeds.Load())
		}
	}
	broken := func() (Env, error) { return env, errors.New("go build failed") }
	if _, err := overlap(context.Background(), env, broken, func() ([]string, error) { return nil, nil }, seed); err == nil || !strings.Contains(err.Error(), "go build failed") {
		t.Errorf("a failed build: %v", err)
	}
	failSeed := func(context.Context, Env, string, bool, io.Writer) error { return errors.New("debootstrap failed") }
	if _, err := overlap(context.Background(), env, ok, func() ([]string, error) { return []string{"b"}, nil }, failSeed); err == nil || !strings.Contains(err.Error(), "debootstrap failed") {
		t.Errorf("a failed seed: %v", err)
	}
}

// waitFor waits for ch, or says that what should run beside it did not.
func waitFor(ch chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-time.After(20 * time.Second):
		return errors.New(what + " did not run at the same time")
	}
}
