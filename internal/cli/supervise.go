package cli

import "github.com/spf13/cobra"

// newSuperviseCmd is the operator's side of supervision: the terminal UI
// (no subcommand) and the scriptable subcommands.
func newSuperviseCmd(env Env) *cobra.Command {
	cmd := newSuperviseUICmd(env)
	cmd.AddCommand(
		newSuperviseListCmd(env),
		newSuperviseDecideCmd(env, "approve"),
		newSuperviseDecideCmd(env, "reject"),
	)
	return cmd
}
