package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/bot-bottle/bot-bottle/internal/attest"
	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// startAttestation is start's check that the bottle is sealed, in the two
// halves lifecycle.StartOptions.AttestEarly takes: the agent's own walls
// are probed as soon as its container runs, the sidecar's resolver and
// proxy once it is ready; a bottle whose walls leak is not handed over.
// probeBin is the probe binary for the backend to mount read-only into
// the agent ("" when it cannot be found: then the attestation fails).
func startAttestation(env Env, be attest.Backend, logsDir string) (probeBin string, early func(context.Context, backend.Bottle) func(context.Context) error) {
	bin, binErr := probeBinary(env)
	if binErr == nil {
		bin, binErr = filepath.Abs(bin)
	}
	if binErr != nil {
		bin = ""
	}
	return bin, func(ctx context.Context, b backend.Bottle) func(context.Context) error {
		if binErr != nil {
			return func(context.Context) error { return binErr }
		}
		a := attest.Begin(ctx, be, b.Slug, attest.Options{Binary: bin, InAgent: b.ProbePath, Phase: "start", LogsDir: logsDir})
		return func(ctx context.Context) error {
			rep, err := a.Finish(ctx)
			var le *attest.LeakError
			if errors.As(err, &le) {
				return found(err) // a failed check: exit 1
			}
			if err == nil {
				fmt.Fprintf(env.Stderr, "  %s; each result is in %s\n", rep.Summary(), filepath.Join(logsDir, attest.LogFile))
			}
			return err
		}
	}
}
