package cli

import "github.com/spf13/cobra"

// newSuperviseCmd is the parent of the supervise commands: the MCP server
// (serve) and the operator's side.
func newSuperviseCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "supervise",
		Short: "Answer the agent's requests for more access, or serve them",
		Long: `supervise is where the agent asks and a human decides. "supervise serve" runs
the MCP server an agent calls when it is blocked; each call becomes a proposal
in the bottle's queue directory for the operator to approve, modify or reject.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newSuperviseServeCmd(env),
	)
	return cmd
}
