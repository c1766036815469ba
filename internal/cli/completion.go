package cli

import (
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/spf13/cobra"
)

// Shell completion is cobra's own "completion" command; these complete
// agent and bottle names from the user's manifests.

type completeFunc = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective)

func completeAgents(env Env) completeFunc {
	return func(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(manifest.Load(env.Home, env.Cwd).AgentNames(), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

func completeBottles(env Env) completeFunc {
	return func(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return withPrefix(manifest.Load(env.Home, env.Cwd).BottleNames(), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

func withPrefix(names []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
