package cli

import "github.com/spf13/cobra"

// newEgressCmd groups the egress proxy's commands: serve runs it, check
// asks it what it would do with one request.
func newEgressCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "egress",
		Short: "Run the egress proxy, or ask what it would do with a request",
		Long: `The egress proxy is a bottle's only way out: an HTTP(S) proxy that allows
only the routes the bottle declares, injects tokens the agent never sees,
scans what leaves for secrets and what comes back for prompt injection.
Inside a bottle the sidecar runs it; "serve" runs it alone.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newEgressServeCmd(env), newEgressCheckCmd(env))
	return cmd
}
