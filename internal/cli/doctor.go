package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/attest"
	"github.com/bot-bottle/bot-bottle/internal/backend"
)

func newDoctorCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor SLUG",
		Short: "Check that a running bottle's walls hold",
		Long: `Run the bypass attestation probes in the running bottle SLUG, as its agent's
user, and print one row per probe: what it tried, what it must show
(closed) and what it got. start runs the same probes before it hands the
bottle to the agent and refuses to when one gets out.

The probes try the host's addresses and the bottle network's gateway (a
listener on every host address is there to answer), DNS for an outside name
through the container's resolver and directly to well-known resolvers over
UDP and TCP, UDP to ports 443 and 53, IPv6, DNS-over-HTTPS and DNS-over-TLS
through the proxy, CONNECT to an IP literal and to the metadata address, a
request whose Host differs from its TLS server name and a CONNECT relayed
inside a tunnel to an allowed host. Each result is appended to the bottle's
logs/attest.jsonl.

Exit status 1 when any probe got out (each names the fix), 2 when the
probes could not run. A running agent shares the container with the probes
and could interfere with them; the host listener's own record of a
connection is kept whatever the probes say. See docs/attestation.md.`,
		Example: `  bot-bottle doctor impl-k3x9q`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDoctor(cmd.Context(), env, args[0])
		},
	}
}

func runDoctor(ctx context.Context, env Env, slug string) error {
	root, err := stateRootDir(env)
	if err != nil {
		return err
	}
	be, closeEngine, err := openEngineSet(ctx, env)
	if err != nil {
		return err
	}
	defer closeEngine()
	t, err := be.Targets(ctx, slug)
	if errors.Is(err, backend.ErrNotFound) {
		return found(err)
	}
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	bin, err := probeBinary(env)
	if err != nil {
		return err
	}
	logs := filepath.Join(root, slug, "logs")
	if _, err := os.Stat(logs); err != nil {
		logs = "" // a bottle whose state is elsewhere: print only
	}
	rep, err := attest.Run(ctx, be, slug, t, attest.Options{Binary: bin, Phase: "doctor", LogsDir: logs})
	if err != nil {
		return err
	}
	printRuntime(ctx, env, be, slug)
	if err := rep.WriteTable(env.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\n%s\n", rep.Summary())
	if err := rep.Err(); err != nil {
		var le *attest.LeakError
		if errors.As(err, &le) {
			return found(err)
		}
		return err
	}
	return nil
}

// probeBinary is the static bot-bottle binary copied into a bottle to run
// the probes: $BOT_BOTTLE_SIDECAR_BINARY, else this executable.
func probeBinary(env Env) (string, error) {
	if b := env.Getenv(envSidecarBinary); b != "" {
		return b, nil
	}
	b, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the bot-bottle binary for the probes: %w; set %s", err, envSidecarBinary)
	}
	return b, nil
}

// printRuntime says which engine and OCI runtime the agent of slug runs on
// (runsc is gVisor).
func printRuntime(ctx context.Context, env Env, be backend.Backend, slug string) {
	list, err := be.List(ctx)
	if err != nil {
		return
	}
	for _, s := range list {
		if s.Slug == slug {
			rt := s.Runtime
			if rt == "" {
				rt = "the engine's default"
			}
			fmt.Fprintf(env.Stdout, "backend %s, agent runtime %s\n\n", s.Backend, rt)
		}
	}
}
