package cli

import (
	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/attest"
	"github.com/bot-bottle/bot-bottle/internal/attest/probe"
)

// newAttestProbeCmd is the probe program of bypass attestation. start and
// doctor copy this binary into the agent container and run it there; it
// reads the probes as JSON on stdin and writes the results on stdout.
func newAttestProbeCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:    attest.ProbeCommand,
		Short:  "Run attestation probes (inside a bottle; used by start and doctor)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return probe.Serve(cmd.Context(), env.Stdin, env.Stdout)
		},
	}
}
