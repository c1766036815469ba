package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// prepareFirstStart makes, side by side, what a start on a new machine
// lacks: the static sidecar binary (bot-bottle was go-installed with cgo
// on) and the base images (the engine is fresh). Each takes minutes on two
// cores and they use different resources (the compiler, the Debian mirror
// and dpkg), so together they take about the longer of the two.
func prepareFirstStart(ctx context.Context, env Env, o startOptions) (Env, error) {
	return overlap(ctx, env,
		func() (Env, error) { return withStaticSidecar(ctx, env) },
		func() ([]string, error) { return missingBases(ctx, env, o) },
		env.seed)
}

// overlap runs buildStatic while the bases that missing names are seeded.
// A base it cannot check is left to the start, which says why (and seeds
// on ErrBaseMissing: withSeeding).
func overlap(ctx context.Context, env Env, buildStatic func() (Env, error), missing func() ([]string, error), seed seeder) (Env, error) {
	type result struct {
		env Env
		err error
	}
	built := make(chan result, 1)
	go func() {
		e, err := buildStatic()
		built <- result{e, err}
	}()
	var seedErr error
	if refs, err := missing(); err == nil && len(refs) > 0 && seed != nil {
		fmt.Fprintf(env.Stderr, "• the engine lacks the base image(s) %s (a fresh engine)\n", strings.Join(refs, " and "))
		seedErr = seedBases(ctx, env, seed)
	}
	r := <-built
	return r.env, errors.Join(r.err, seedErr)
}

// missingBases asks the start's backend which base images it lacks; a
// backend that builds on none lacks none.
func missingBases(ctx context.Context, env Env, o startOptions) ([]string, error) {
	be, closeEngine, err := openBackend(ctx, env, &o)
	if err != nil {
		return nil, err
	}
	defer closeEngine()
	bi, ok := be.(backend.BaseImages)
	if !ok {
		return nil, nil
	}
	return bi.MissingBases(ctx)
}
