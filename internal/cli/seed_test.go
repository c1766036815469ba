package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/imagebuild"
	"github.com/bot-bottle/bot-bottle/scripts"
)

// TestStartSeedsMissingBases: a start that finds a base image missing (a
// fresh engine, bot-bottle installed with go install: no checkout, no
// scripts/) seeds both bases, each line marked with its image, and starts
// again; other failures are not retried.
func TestStartSeedsMissingBases(t *testing.T) {
	missing := &backend.StepError{Step: "preparing images", Err: fmt.Errorf("building bot-bottle/shell: %w: bot-bottle/base:bookworm", imagebuild.ErrBaseMissing)}
	var mu sync.Mutex
	var seeded []string
	seed := func(_ context.Context, _ Env, tag string, sidecar bool, out io.Writer) error {
		mu.Lock()
		seeded = append(seeded, fmt.Sprintf("%s sidecar=%v", tag, sidecar))
		mu.Unlock()
		fmt.Fprintln(out, "seed-base-image: ready")
		return nil
	}
	var stderr bytes.Buffer
	env := Env{Stderr: &stderr, Getenv: func(k string) string {
		if k == envSidecarBaseImage {
			return "my/sidecar-base:x"
		}
		return ""
	}}
	calls := 0
	err := withSeeding(context.Background(), env, seed, func() error {
		calls++
		if calls == 1 {
			return missing
		}
		return nil
	})
	slices.Sort(seeded)
	if err != nil || calls != 2 || !slices.Equal(seeded, []string{"bot-bottle/base:bookworm sidecar=false", "my/sidecar-base:x sidecar=true"}) {
		t.Errorf("err=%v calls=%d seeded=%v; want both bases seeded and the start run again", err, calls, seeded)
	}
	for _, want := range []string{"seeding the base images bot-bottle/base:bookworm and my/sidecar-base:x in parallel", "about 3 minutes", "  [my/sidecar-base:x] seed-base-image: ready\n", "• base images seeded in"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	calls = 0
	failing := func(context.Context, Env, string, bool, io.Writer) error { return errors.New("debootstrap failed") }
	if err := withSeeding(context.Background(), env, failing, func() error { calls++; return missing }); err == nil || calls != 1 || !strings.Contains(err.Error(), "debootstrap failed") {
		t.Errorf("a failed seed: err=%v calls=%d; want its error and no second start", err, calls)
	}
	other := errors.New("no engine")
	calls = 0
	if err := withSeeding(context.Background(), env, seed, func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("another failure: err=%v calls=%d; want it as is, not retried", err, calls)
	}
	if err := withSeeding(context.Background(), env, nil, func() error { return missing }); !errors.Is(err, imagebuild.ErrBaseMissing) {
		t.Errorf("no seeder: %v", err)
	}
}

// The embedded script is the one in scripts/ (a go-installed binary seeds
// with what the checkout would).
func TestEmbeddedSeedScript(t *testing.T) {
	if !bytes.Contains(scripts.SeedBaseImage, []byte("debootstrap --variant=minbase")) {
		t.Error("the embedded seed script is not seed-base-image.sh")
	}
}
