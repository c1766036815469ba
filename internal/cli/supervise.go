package cli

import "github.com/spf13/cobra"

// newSuperviseCmd is where the agent asks and a human decides: run alone it
// is the operator's terminal UI; "serve" is the MCP server the agent calls;
// list, approve and reject answer proposals from scripts.
func newSuperviseCmd(env Env) *cobra.Command {
	cmd := newSuperviseUICmd(env)
	cmd.AddCommand(
		newSuperviseServeCmd(env),
		newSuperviseListCmd(env),
		newSuperviseDecideCmd(env, "approve"),
		newSuperviseDecideCmd(env, "reject"),
	)
	return cmd
}
